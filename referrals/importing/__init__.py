"""CSV import of referral history from a practice management system (PMS).

- ``vocabulary``: the columns and the accepted spellings of source and case types;
- ``reading``: streaming the file (UTF-8, header, line numbers);
- ``parsing``: one row on its own (dates, choices, journey, lengths);
- ``matching``: what already exists (offices, doctors, patients, referrals), duplicates;
- ``writing``: bulk writes in batches, first-referral bookkeeping;
- ``inserts``: fast multi-row inserts without model instances (COPY on PostgreSQL);
- ``pipeline``: check, preview and import a file (command, tasks, views, benchmark);
- ``jobs``: an upload's ImportJob lifecycle with claims and progress.
"""
