"""The machinery that runs, tests and grades the lessons (needs the ``batch`` extra).

A learner's kernel never imports this subpackage: ``course_utils`` is the lessons' vocabulary,
``course_utils.tools`` is for maintainers and teachers. An import-linter contract in
``pyproject.toml`` keeps that line (``make lint``).

- ``lessons``: the one registry of per-lesson facts (file, title, CSV, small parameters, budget,
  dependencies) and finding the notebooks;
- ``execute``: the one way to execute a notebook (in this process, in a child process with a wall
  limit, or inside the grader's sandbox), ``kill_tree`` and ``tree_rss_mb``;
- ``transforms``: notebook changes as nbconvert preprocessors (clear, coalesce streams, shell
  lines off) and safe reading/writing;
- ``runner``, ``headers``, ``cli``; ``grading``: build student notebooks and grade them.
"""
