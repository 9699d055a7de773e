"""Import of referral history from a practice management system (PMS) export
(docs/imports.md).

- ``sources``: opening any export (CSV separators and encodings, XLSX), streamed;
- ``headers``: the header dictionary that pre-maps a file's columns;
- ``dates``: date formats (ISO, US, day-first, Excel serials);
- ``mapping``: a file's columns and values onto our canonical rows (JSON v1);
- ``presets``: saved and built-in mappings, found by a file's header names;
- ``vocabulary``: the columns and the accepted spellings of source and case types;
- ``reading``: streaming our own format (UTF-8, header, line numbers);
- ``parsing``: one row on its own (dates, choices, journey, lengths);
- ``matching``: what already exists (offices, doctors, patients, referrals), duplicates;
- ``writing``: bulk writes in batches (through practices.bulk), first-referral bookkeeping;
- ``pipeline``: check, preview and import a file (command, tasks, views, benchmark);
- ``jobs``: an upload's ImportJob lifecycle with claims and progress.
"""
