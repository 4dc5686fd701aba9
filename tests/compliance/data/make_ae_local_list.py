"""Write ae_local_terrorist_list.xls: the SHEETS of tests/compliance/test_uae_local_list.py as a
legacy Excel (.xls, BIFF8) workbook, the form in which the EOCN publishes the UAE Local Terrorist
List. Needs xlwt (not a project dependency; the file is committed):

    PYTHONPATH=. python tests/compliance/data/make_ae_local_list.py
"""
import datetime as dt
from pathlib import Path

import xlwt

from tests.compliance.test_uae_local_list import SHEETS

OUT = Path(__file__).with_name("ae_local_terrorist_list.xls")


def main() -> None:
    book = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for name, rows, merges in SHEETS:
        sheet = book.add_sheet(name)
        covered = {(r, c) for r1, r2, c1, c2 in merges for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        starts = {(r1, c1): (r1, r2, c1, c2) for r1, r2, c1, c2 in merges}
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if (r, c) in starts:
                    r1, r2, c1, c2 = starts[(r, c)]
                    sheet.write_merge(r1, r2, c1, c2, value)
                elif (r, c) in covered:
                    continue
                elif isinstance(value, dt.date):
                    sheet.write(r, c, value, date_style)
                else:
                    sheet.write(r, c, value)
    book.save(str(OUT))


if __name__ == "__main__":
    main()
