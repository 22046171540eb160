-- Synthetic data for `make demo`: 3 customers, 12 months of history (UTC), 36,500 messages in all.
-- Personal columns hold random bytes standing in for sealed envelopes; no real number or text is used.
INSERT INTO sms.customers (id, name) VALUES (1, 'Boulangerie Demo'), (2, 'Clinique Demo'), (3, 'Garage Demo');

INSERT INTO sms.templates (customer_id, name, body)
SELECT c, 'reminder', 'Your appointment is tomorrow' FROM generate_series(1, 3) c;

INSERT INTO sms.contacts (customer_id, phone, phone_bidx, name, created_at)
SELECT c, decode(md5(random()::text), 'hex'), decode(md5(random()::text), 'hex'), decode(md5(random()::text), 'hex'),
       now() - (random() * interval '365 days')
FROM generate_series(1, 3) c, generate_series(1, 200) n;

INSERT INTO sms.messages (customer_id, created_at, recipient, recipient_bidx, body, encoding, segments)
SELECT c, now() - (random() * interval '365 days'), decode(md5(random()::text), 'hex'), decode(md5(random()::text), 'hex'),
       decode(md5(random()::text) || md5(random()::text), 'hex'), 'gsm7', 1
FROM (VALUES (1, 20000), (2, 15000), (3, 1500)) AS volume(c, messages), generate_series(1, volume.messages) n;

INSERT INTO sms.delivery_reports (message_id, customer_id, status, reported_at)
SELECT id, customer_id, (ARRAY['delivered', 'delivered', 'delivered', 'failed'])[1 + (id % 4)], created_at + interval '5 seconds'
FROM sms.messages WHERE created_at + interval '5 seconds' < now() + interval '1 month';
