"""Reading query plans: does a plan read a whole table (or a whole index) to answer?"""

from __future__ import annotations


def full_scan(plan: str, table: str, vendor: str) -> bool:
    """True for a sequential scan, or an index walked end to end with only a Filter.

    PostgreSQL: `Seq Scan on t`, or `Index Scan ... on t` without an `Index Cond` (the index
    only supplies the order). SQLite: `SCAN t` (with or without `USING INDEX`) reads it all;
    `SEARCH t` seeks.
    """
    lines = plan.splitlines()
    if vendor == "sqlite":
        # `SCAN t` or `SCAN t USING ...`, not `SCAN t_fts VIRTUAL TABLE` (another table).
        return any(
            line.strip() == f"SCAN {table}" or line.strip().startswith(f"SCAN {table} ")
            for line in lines
        )
    for i, line in enumerate(lines):
        if f"Seq Scan on {table}" in line:
            return True
        if "Index" in line and "Scan" in line and f" on {table}" in line:
            details = []
            for following in lines[i + 1 :]:
                if "->" in following:
                    break
                details.append(following)
            if not any("Index Cond" in d for d in details):
                return True
    return False


def index_used(plan: str, table: str, vendor: str) -> str:
    """How a plan reads `table`: the index (or FTS5 table) it reads it through, 'sequential
    scan' when it reads it all in storage order, or '' when it does not read it."""
    for line in plan.splitlines():
        text = line.strip().removeprefix("->").strip()
        if vendor == "sqlite":
            if text.startswith(f"SCAN {table}_fts VIRTUAL TABLE"):
                return f"{table}_fts (FTS5)"
            if text == f"SCAN {table}":
                return "sequential scan"
            if text.startswith((f"SEARCH {table} USING ", f"SCAN {table} USING ")):
                return text.split(" USING ", 1)[1]
        else:
            if f"Seq Scan on {table} " in f"{text} ":
                return "sequential scan"
            if " on " + table + " " in f"{text} " and " using " in text:
                kind = "backward" if "Backward" in text else ""
                name = text.split(" using ", 1)[1].split(" on ", 1)[0]
                return f"{name} {kind}".strip()
            if text.startswith(f"Bitmap Index Scan on {table}_"):
                return text.removeprefix("Bitmap Index Scan on ").split(" ")[0]
    return ""
