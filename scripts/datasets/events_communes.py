#!/usr/bin/env python3
"""Derives datasets/events/communes.csv (the events chapter's places) from two files of
datasets/laplace_immo/: the INSEE legal populations (donnees_communes.xlsx, column PMUN) and
the commune names (commune.csv). Keeps the N most populous communes (default 300), ties by
code; writes code_commune,nom_commune,population as UTF-8 CSV. Standard library only (the
workbook is read as the zip of XML it is), so the file can be remade anywhere:

    python3 scripts/datasets/events_communes.py > datasets/events/communes.csv
"""

import csv
import re
import sys
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "datasets" / "laplace_immo"
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def sheet_rows(path):
    """The first sheet's rows as lists of cell texts (shared strings resolved)."""
    with zipfile.ZipFile(path) as book:
        strings = [
            "".join(t.text or "" for t in si.iter("{%s}t" % NS["m"]))
            for si in ET.fromstring(book.read("xl/sharedStrings.xml")).findall("m:si", NS)
        ]
        sheet = ET.fromstring(book.read("xl/worksheets/sheet1.xml"))
    for row in sheet.find("m:sheetData", NS).findall("m:row", NS):
        cells = {}
        for c in row.findall("m:c", NS):
            column = re.match(r"[A-Z]+", c.get("r")).group(0)
            v = c.find("m:v", NS)
            text = "" if v is None else v.text
            if c.get("t") == "s":
                text = strings[int(text)]
            elif c.get("t") == "inlineStr":
                text = "".join(t.text or "" for t in c.iter("{%s}t" % NS["m"]))
            cells[column] = text
        yield cells


def code(value, width):
    """A code cell as text: numbers lose their float suffix and get their leading zeros."""
    value = value.strip()
    if re.fullmatch(r"\d+(\.0+)?", value):
        return str(int(float(value))).zfill(width)
    return value


def main():
    keep = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rows = sheet_rows(SOURCE / "donnees_communes.xlsx")
    header = next(rows)
    column = {name: letter for letter, name in header.items()}
    populations = {}
    for cells in rows:
        dep = code(cells.get(column["CODDEP"], ""), 2)
        com = code(cells.get(column["CODCOM"], ""), 3)
        pmun = cells.get(column["PMUN"], "").strip()
        if dep and com and pmun:
            populations[dep + com] = int(float(pmun))
    names = {}
    with open(SOURCE / "commune.csv", encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            names[row["id_commune"]] = row["nom_commune"]
    joined = [(c, names[c], p) for c, p in populations.items() if c in names]
    joined.sort(key=lambda r: (-r[2], r[0]))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["code_commune", "nom_commune", "population"])
    kept = joined[:keep]
    # A name two kept communes share (Saint-Denis, 93 and 974) gets its department, so a
    # request naming a commune names one place.
    counts = {}
    for _, name, _ in kept:
        counts[name] = counts.get(name, 0) + 1
    for c, name, p in kept:
        if counts[name] > 1:
            name = f"{name} ({c[:3] if c.startswith('97') else c[:2]})"
        # Overseas departments have three-digit codes (974) and their communes two more
        # digits in INSEE's code (97411); the source writes them as 974 + 411.
        insee = c if len(c) == 5 else c[:3] + c[-2:]
        out.writerow([insee, name, p])
    print(f"{len(populations)} populations, {len(names)} names, {len(joined)} joined, kept {min(keep, len(joined))}", file=sys.stderr)


if __name__ == "__main__":
    main()
