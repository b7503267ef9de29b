"""Create the example's two source databases with their sample rows (idempotent: tables are replaced).

    python seed.py                                   # defaults below, as the source configs read them
    python seed.py --pg postgresql://u:p@host/crm_app --mysql mysql://root@host:3306/crm_shop

The PostgreSQL and MySQL databases themselves must exist (`createdb crm_app`,
`CREATE DATABASE crm_shop`); this script owns only their tables. The ids collide on purpose (customer
1 is someone else in each system), and so do some emails: see config/targets/.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from urllib.parse import unquote, urlsplit

APP_CUSTOMERS = [  # customer_id, email, full_name, country, created_at
    (1, "ann@example.com", "Ann Lee", "us", datetime(2024, 1, 5, 9, 0)),
    (2, "bob@example.com", "Bob Stone", "gb", datetime(2024, 2, 1, 12, 30)),
    (3, "cy@example.com", "Cy Park", "kr", datetime(2024, 3, 14, 8, 15)),
    (4, "dee@example.com", "Dee Ross", None, datetime(2024, 4, 2, 17, 45)),
    (5, "eve@example.com", "Eve Adams", "us", datetime(2024, 5, 20, 10, 0)),
]
SHOP_CLIENTS = [  # client_id, name, email, country_code
    (1, "Frank Moe", "frank@example.com", "DE"),
    (2, "Ann Lee", "ANN@example.com", "CA"),
    (3, "Gus Grey", "gus@example.com", "FR"),
    (4, "Hal Berg", "hal@example.com", "SE"),
]


def seed_app(dsn: str) -> None:
    """public.customers in the app's PostgreSQL database."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("DROP TABLE IF EXISTS public.customers")
        conn.execute(
            "CREATE TABLE public.customers (customer_id integer PRIMARY KEY, email text NOT NULL, "
            "full_name text NOT NULL, country text, created_at timestamp NOT NULL)"
        )
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO public.customers VALUES (%s, %s, %s, %s, %s)", APP_CUSTOMERS)


def seed_shop(url: str) -> None:
    """clients in the shop's MySQL database."""
    import pymysql

    parts = urlsplit(url)
    conn = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=parts.path.lstrip("/"),
        autocommit=True,
    )
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS clients")
        cur.execute(
            "CREATE TABLE clients (client_id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, "
            "email VARCHAR(254) NOT NULL, country_code CHAR(2))"
        )
        cur.executemany("INSERT INTO clients VALUES (%s, %s, %s, %s)", SHOP_CLIENTS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", default="postgresql://datakit:datakit@127.0.0.1:5432/crm_app")
    parser.add_argument("--mysql", default="mysql://root@127.0.0.1:3306/crm_shop")
    args = parser.parse_args()
    seed_app(args.pg)
    seed_shop(args.mysql)
    print(f"seeded {len(APP_CUSTOMERS)} app customers and {len(SHOP_CLIENTS)} shop clients")


if __name__ == "__main__":
    main()
