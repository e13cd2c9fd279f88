#!/usr/bin/env python3
"""A next-day export in which a share of the past orders changed, across three files, the way a
shop's corrections arrive: deterministic, for the daily-run benchmark (bench.py) and by hand.

    python3 bench/change_export.py DATA_DIR OUT_DIR [--share 0.001]

Of every 1/share orders (1,000 of 1M at the default 0.1%), half are canceled (their status in the
orders file becomes `canceled`), half have their first item's price corrected (1.00 more, in the
items file), and a tenth of that number of customer ids move to another person (their
`customer_unique_id`, in the customers file, becomes that of the customer 5,000 lines before): at
1M orders, 500 cancellations, 500 price corrections and 100 customer ids moved. The products file is
linked unchanged. Which lines change depends only on their positions, so the same input gives the
same output.
"""

import argparse
import csv
from pathlib import Path

CUSTOMERS = "olist_customers_dataset.csv"
ORDERS = "olist_orders_dataset.csv"
ITEMS = "olist_order_items_dataset.csv"
PRODUCTS = "olist_products_dataset.csv"
REMAP_DISTANCE = 5000


def link_unchanged(data, out, rewritten):
    """Makes `out` an export directory whose files link to `data`'s, except the `rewritten` ones
    (removed, for the caller to write)."""
    out.mkdir(parents=True, exist_ok=True)
    for name in (CUSTOMERS, PRODUCTS, ORDERS, ITEMS):
        target = out / name
        if target.exists() or target.is_symlink():
            target.unlink()
        if name not in rewritten:
            target.symlink_to((data / name).resolve())


def picked(position, every):
    """Whether the `position`th (from 1) line of a kind is one of every `every`th, from the middle
    of the first interval."""
    return every > 0 and (position + every // 2) % every == 0


def rewrite(src, dst, change):
    """Copies the CSV file `src` (a record a line, as these three files are) to `dst`, each row
    passed through `change(row)`: a row it changed is written anew, every other line as it was,
    byte for byte (the header too); returns how many rows `change` changed."""
    changed = 0
    with open(src, newline="", encoding="utf-8") as i, open(dst, "w", newline="", encoding="utf-8") as o:
        writer = csv.writer(o, lineterminator="\n")
        o.write(i.readline())
        for line in i:
            row = next(csv.reader([line]))
            if change(row):
                changed += 1
                writer.writerow(row)
            else:
                o.write(line)
    return changed


def change_export(data, out, share=0.001):
    """Writes the changed export of `data` into `out`; returns the counts of each kind of change."""
    data, out = Path(data), Path(out)
    link_unchanged(data, out, {CUSTOMERS, ORDERS, ITEMS})
    every = round(2 / share)  # a cancellation, and a price correction, every `every` orders
    remap_every = round(10 / share)
    position = [0]

    def cancel(row):
        position[0] += 1
        if picked(position[0], every) and row[2] != "canceled":
            row[2] = "canceled"
            return True
        return False

    orders_position = [0, None]

    def correct_price(row):
        if row[0] != orders_position[1]:
            orders_position[1] = row[0]
            orders_position[0] += 1
            # Offset by half an interval from the cancellations, so they are other orders.
            if picked(orders_position[0] + every // 2, every):
                row[5] = f"{float(row[5]) + 1.0:.2f}"
                return True
        return False

    people = []

    def remap(row):
        people.append(row[1])
        at = len(people)
        if at > REMAP_DISTANCE and picked(at, remap_every):
            other = people[at - 1 - REMAP_DISTANCE]
            if other != row[1]:
                row[1] = other
                return True
        return False

    counts = {
        "canceled": rewrite(data / ORDERS, out / ORDERS, cancel),
        "prices": rewrite(data / ITEMS, out / ITEMS, correct_price),
        "remapped": rewrite(data / CUSTOMERS, out / CUSTOMERS, remap),
    }
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--share", type=float, default=0.001, help="share of the orders changed (default 0.001)")
    args = parser.parse_args()
    counts = change_export(args.data, args.out, args.share)
    print(f"{args.out}: {counts['canceled']} orders canceled, {counts['prices']} item prices corrected, "
          f"{counts['remapped']} customer ids moved to another person")


if __name__ == "__main__":
    main()
