"""``python -m course_utils ...``: the course's command line (``course_utils.tools.cli``)."""

import sys

from course_utils.tools.cli import main

if __name__ == "__main__":
    sys.exit(main())
