"""What every file import shares: the report (:mod:`.report`), the reading of CSV and XLSX files
(:mod:`.reading`) and the runner that takes an engine's checks and writes through one shape
(:mod:`.runner`). The engines themselves (``interchange``, ``calendar``, ``week_files``,
``send_belonging_files``, ``partnership_files``) and the registry of record kinds
(:mod:`engagement.records`) sit above it."""
