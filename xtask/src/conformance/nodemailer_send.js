// nodemailer (npm) sends one message file to the judging receiver of
// `smtp-conform client`: the client side of `cargo xtask conformance`
// (xtask/src/conformance/clients.rs). NODE_PATH points at .peers/node.
//
// usage: node nodemailer_send.js none|starttls|implicit PORT CA_FILE MESSAGE_FILE FROM TO...
// with SMTP_USER and SMTP_PASSWORD in the environment for AUTH (not in
// plain mode). Exit 0 when the message was accepted, 1 otherwise (the
// error on stderr).

'use strict';

const fs = require('fs');
const nodemailer = require('nodemailer');

const [mode, port, ca, message, from, ...to] = process.argv.slice(2);
if (!['none', 'starttls', 'implicit'].includes(mode) || to.length === 0) {
    console.error('usage: node nodemailer_send.js none|starttls|implicit PORT CA MESSAGE FROM TO...');
    process.exit(2);
}

const options = {
    host: 'localhost',
    port: Number(port),
    // The EHLO name (else the machine's host name).
    name: 'nodemailer.client.test',
    // implicit: TLS from the first byte; starttls: STARTTLS required.
    secure: mode === 'implicit',
    requireTLS: mode === 'starttls',
    // none: never STARTTLS, even if it were offered.
    ignoreTLS: mode === 'none',
    connectionTimeout: 30000,
    greetingTimeout: 30000,
    socketTimeout: 30000,
    tls: { ca: [fs.readFileSync(ca)], servername: 'localhost' },
};
if (mode !== 'none') {
    options.auth = { user: process.env.SMTP_USER, pass: process.env.SMTP_PASSWORD };
}

const transport = nodemailer.createTransport(options);
// No process.exit(): nodemailer writes its QUIT after this callback, and
// Node exits by itself once the connection is closed.
transport.sendMail({ envelope: { from, to }, raw: fs.readFileSync(message) }, (err, info) => {
    if (err) {
        console.error(`nodemailer: ${err.message}`);
        process.exitCode = 1;
        return;
    }
    console.log(`nodemailer: ${info.response}`);
});
