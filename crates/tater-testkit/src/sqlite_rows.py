"""Prints every row of every table of the SQLite file argv[1], one line per row: the
table's name, a tab, the row as Python writes it (newlines escaped). An independent reader of
what the database holds, for tests that look for text in it."""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
for table in tables:
    for row in db.execute(f'SELECT * FROM "{table}"'):
        print(table + "\t" + repr(row).replace("\n", " "))
