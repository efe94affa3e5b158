-- Mail written instead of sent when no SMTP server is configured: a developer (or a test) reads
-- the link from here. Not exposed to the API roles.

create table if not exists trellis.mail_outbox (
  id bigserial primary key,
  kind text not null,
  recipient text not null,
  subject text not null,
  html text not null,
  text text not null,
  created_at timestamptz not null default now()
);

-- "The last mail to this address" is how tests and tools read the outbox.
create index if not exists mail_outbox_recipient_idx on trellis.mail_outbox (recipient, id desc);
