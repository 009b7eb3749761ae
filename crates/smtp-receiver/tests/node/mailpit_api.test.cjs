// The npm Mailpit client `mailpit-api` 2.1.0, used unchanged against the
// test inbox. Run by tests/inbox_cli.rs with MAILPIT_URL (the inbox) and
// MAILPIT_API (where .ci/install-peers put the package); two messages were
// delivered before: "Welcome aboard" and "Second" (each to
// bob+signup@example.org, with hidden@example.org as Bcc, a blob.bin attachment).
const { test } = require("node:test");
const assert = require("node:assert/strict");
const { MailpitClient } = require(process.env.MAILPIT_API);

const mp = new MailpitClient(process.env.MAILPIT_URL);

test("list, read, search and delete with an unchanged Mailpit client", async () => {
  const info = await mp.getInfo();
  assert.equal(info.Messages, 2);

  const list = await mp.listMessages(0, 50);
  assert.equal(list.total, 2);
  assert.equal(list.messages.length, 2);
  assert.equal(list.messages[0].Subject, "Second");

  const found = await mp.searchMessages({ query: 'subject:"welcome aboard"' });
  assert.equal(found.messages_count, 1);
  const id = found.messages[0].ID;

  const msg = await mp.getMessageSummary(id);
  assert.equal(msg.ID, id);
  assert.equal(msg.To[0].Address, "bob+signup@example.org");
  assert.deepEqual(msg.Bcc.map((a) => a.Address), ["hidden@example.org"]);
  assert.deepEqual(msg.Tags, ["signup"]);
  const headers = await mp.getMessageHeaders(id);
  assert.deepEqual(headers.Subject, ["Welcome aboard"]);
  const source = await mp.getMessageSource(id);
  assert.match(source, /Subject: Welcome aboard/);
  const attachment = msg.Attachments[0];
  const blob = await mp.getMessageAttachment(id, attachment.PartID);
  assert.equal(blob.size, attachment.Size);

  const read = await mp.searchMessages({ query: "is:read" });
  assert.equal(read.messages_count, 1);
  await mp.setReadStatus({ IDs: [id], Read: false });
  assert.equal((await mp.listMessages()).unread, 2);

  const latest = await mp.waitForMessage({ query: "subject:second" }, { timeout: 2000 });
  assert.equal(latest.Subject, "Second");

  await mp.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 0 } });
  assert.equal((await mp.getChaosTriggers()).Recipient.ErrorCode, 550);
  await mp.setChaosTriggers();

  await mp.deleteMessagesBySearch({ query: 'subject:"nothing matches this"' });
  assert.equal((await mp.listMessages()).total, 2);
  await mp.deleteMessages({ IDs: [id] });
  assert.equal((await mp.listMessages()).total, 1);
  await mp.deleteMessages();
  assert.equal((await mp.listMessages()).total, 0);
});
