-- The demo database postgres-mcp serves when no PostgreSQL is configured: a small shop.
-- Portable SQL: the server loads it into SQLite; `psql -f demo.sql` loads the same data into PostgreSQL.

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    signed_up DATE NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    price NUMERIC(10, 2) NOT NULL,
    attributes JSON
);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    ordered_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
);

CREATE INDEX orders_customer_id_idx ON orders (customer_id);

CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL,
    unit_price NUMERIC(10, 2) NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

INSERT INTO customers (id, name, email, country, signed_up, is_active) VALUES
    (1, 'Ada Lovelace', 'ada@example.com', 'GB', '2023-02-04', TRUE),
    (2, 'Alan Turing', 'alan@example.com', 'GB', '2023-03-07', TRUE),
    (3, 'Grace Hopper', 'grace@example.com', 'US', '2023-04-10', TRUE),
    (4, 'Edsger Dijkstra', 'edsger@example.com', 'NL', '2023-05-13', FALSE),
    (5, 'Barbara Liskov', 'barbara@example.com', 'US', '2023-06-16', TRUE),
    (6, 'Linus Torvalds', 'linus@example.com', 'FI', '2023-07-19', TRUE),
    (7, 'Margaret Hamilton', 'margaret@example.com', 'US', '2023-08-22', TRUE),
    (8, 'Niklaus Wirth', 'niklaus@example.com', 'CH', '2023-09-25', TRUE),
    (9, 'Frances Allen', 'frances@example.com', 'US', '2023-10-01', FALSE),
    (10, 'Tove Jansson', 'tove@example.com', 'FI', '2023-11-04', TRUE);

INSERT INTO products (id, name, category, price, attributes) VALUES
    (1, 'Mechanical keyboard', 'hardware', 89.90, '{"layout": "ISO", "switches": "brown"}'),
    (2, 'Wireless mouse', 'hardware', 24.50, '{"dpi": 1600}'),
    (3, '27-inch monitor', 'hardware', 229.00, '{"resolution": "2560x1440", "hz": 144}'),
    (4, 'USB-C hub', 'hardware', 39.99, NULL),
    (5, 'Laptop stand', 'accessories', 45.00, '{"material": "aluminium"}'),
    (6, 'Desk lamp', 'accessories', 32.25, NULL),
    (7, 'Noise-cancelling headphones', 'audio', 199.00, '{"wireless": true, "battery_h": 30}'),
    (8, 'Conference speaker', 'audio', 129.95, '{"wireless": true}'),
    (9, 'SQL for Mortals', 'books', 34.90, '{"pages": 412, "edition": 3}'),
    (10, 'The Art of Indexing', 'books', 49.00, '{"pages": 288}'),
    (11, 'Coffee mug', 'accessories', 9.99, '{"capacity_ml": 350}'),
    (12, 'Webcam', 'hardware', 74.00, '{"resolution": "1080p"}');

INSERT INTO orders (id, customer_id, ordered_at, status) VALUES
    (1, 6, '2024-02-13 18:03:00', 'delivered'),
    (2, 1, '2024-01-14 14:04:00', 'delivered'),
    (3, 1, '2024-05-04 11:40:00', 'cancelled'),
    (4, 1, '2024-05-28 10:18:00', 'shipped'),
    (5, 10, '2024-03-18 18:11:00', 'delivered'),
    (6, 2, '2024-05-02 17:13:00', 'shipped'),
    (7, 6, '2024-03-08 20:11:00', 'cancelled'),
    (8, 5, '2024-05-16 13:46:00', 'shipped'),
    (9, 7, '2024-02-25 13:09:00', 'shipped'),
    (10, 10, '2024-03-11 19:22:00', 'pending'),
    (11, 5, '2024-04-23 18:04:00', 'delivered'),
    (12, 7, '2024-06-12 08:29:00', 'delivered'),
    (13, 8, '2024-01-07 20:18:00', 'delivered'),
    (14, 8, '2024-04-18 12:56:00', 'delivered'),
    (15, 6, '2024-06-13 11:09:00', 'delivered'),
    (16, 4, '2024-01-16 17:11:00', 'delivered'),
    (17, 6, '2024-05-19 13:08:00', 'cancelled'),
    (18, 7, '2024-04-13 14:06:00', 'shipped'),
    (19, 3, '2024-01-11 17:03:00', 'delivered'),
    (20, 9, '2024-01-12 17:01:00', 'delivered'),
    (21, 3, '2024-06-09 13:38:00', 'delivered'),
    (22, 8, '2024-04-10 09:09:00', 'delivered'),
    (23, 1, '2024-02-17 13:09:00', 'cancelled'),
    (24, 5, '2024-05-12 10:22:00', 'delivered');

INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES
    (1, 2, 1, 24.50),
    (1, 6, 3, 32.25),
    (1, 10, 1, 49.00),
    (2, 9, 2, 34.90),
    (3, 1, 2, 89.90),
    (3, 10, 1, 49.00),
    (3, 11, 1, 9.99),
    (4, 9, 1, 34.90),
    (5, 4, 2, 39.99),
    (5, 10, 1, 49.00),
    (5, 11, 3, 9.99),
    (6, 6, 2, 32.25),
    (6, 7, 3, 199.00),
    (6, 9, 2, 34.90),
    (7, 2, 3, 24.50),
    (8, 2, 1, 24.50),
    (8, 10, 3, 49.00),
    (9, 1, 1, 89.90),
    (9, 11, 3, 9.99),
    (10, 8, 1, 129.95),
    (10, 10, 1, 49.00),
    (11, 5, 3, 45.00),
    (11, 10, 2, 49.00),
    (11, 12, 2, 74.00),
    (12, 10, 1, 49.00),
    (13, 4, 2, 39.99),
    (13, 7, 1, 199.00),
    (13, 11, 1, 9.99),
    (14, 5, 3, 45.00),
    (14, 9, 2, 34.90),
    (15, 3, 1, 229.00),
    (16, 1, 2, 89.90),
    (16, 3, 3, 229.00),
    (17, 1, 2, 89.90),
    (17, 10, 3, 49.00),
    (17, 11, 3, 9.99),
    (18, 1, 1, 89.90),
    (18, 4, 1, 39.99),
    (18, 7, 2, 199.00),
    (19, 10, 1, 49.00),
    (20, 10, 2, 49.00),
    (21, 2, 2, 24.50),
    (21, 12, 2, 74.00),
    (22, 5, 3, 45.00),
    (22, 6, 1, 32.25),
    (22, 8, 3, 129.95),
    (23, 1, 3, 89.90),
    (23, 5, 1, 45.00),
    (23, 9, 3, 34.90),
    (24, 6, 3, 32.25),
    (24, 9, 1, 34.90),
    (24, 12, 3, 74.00);
