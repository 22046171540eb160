-- Synthetic history for `make demo`, as the platform kept it before Lethe: 3 customers, 12 months (UTC),
-- personal columns in PLAINTEXT (fake numbers and texts), to be sealed by `lethe encrypt migrate`.
INSERT INTO sms.customers (id, name) VALUES (1, 'Boulangerie Demo'), (2, 'Clinique Demo'), (3, 'Garage Demo');

INSERT INTO sms.templates (customer_id, name, body)
SELECT c, 'reminder', 'Your appointment is tomorrow' FROM generate_series(1, 3) c;

INSERT INTO sms.contacts (customer_id, phone, name, created_at)
SELECT c, convert_to('+33612' || lpad((n * 7919 % 1000000)::text, 6, '0'), 'UTF8'), convert_to('Contact ' || n, 'UTF8'),
       now() - (random() * interval '365 days')
FROM generate_series(1, 3) c, generate_series(1, 60) n;

INSERT INTO sms.messages (customer_id, created_at, recipient, body, encoding, segments)
SELECT c, now() - (random() * interval '365 days'), convert_to('+33612' || lpad((n * 104729 % 1000000)::text, 6, '0'), 'UTF8'),
       convert_to('Rappel: votre rendez-vous n°' || n, 'UTF8'), 'ucs2', 1
FROM (VALUES (1, 2000), (2, 1500), (3, 150)) AS volume(c, messages), generate_series(1, volume.messages) n;

INSERT INTO sms.delivery_reports (message_id, customer_id, status, reported_at)
SELECT id, customer_id, (ARRAY['delivered', 'delivered', 'delivered', 'failed'])[1 + (id % 4)], created_at + interval '5 seconds'
FROM sms.messages WHERE created_at + interval '5 seconds' < now() + interval '1 month';
