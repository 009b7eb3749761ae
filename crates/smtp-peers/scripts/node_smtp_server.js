// nodemailer's smtp-server (npm) on a loopback port chosen by the kernel.
//
// Started by crates/smtp-peers/src/node.rs with NODE_PATH pointing at the
// node_modules folder .ci/install-peers fills (.peers/node). Prints
// `listening on HOST:PORT` once the socket is bound, then serves until
// SIGTERM. The library's defaults are kept, except what an application of
// it must decide anyway:
//   - authOptional: mail is accepted without AUTH (an MX, not only an MSA);
//   - AUTH PLAIN and LOGIN for the --user NAME:PASSWORD pairs, offered only
//     under TLS (allowInsecureAuth stays false);
//   - recipients: any address in a --domain, and <Postmaster>, is
//     accepted, others get 550 (not an open relay); without --domain every
//     one is accepted;
//   - no reverse DNS look-up (there is no resolver on these machines).
// Every accepted message is stored like aiosmtpd_server.py stores it
// (STORE/new/N.eml as received after dot-unstuffing, STORE/meta/N.meta with
// the envelope), so crates/smtp-peers/src/store.rs reads both.

'use strict';

const fs = require('fs');
const path = require('path');
const { SMTPServer } = require('smtp-server');

function parseArgs(argv) {
    const args = { host: '127.0.0.1', port: 0, mode: 'plain', users: [], domains: [] };
    for (let i = 0; i < argv.length; i++) {
        const value = argv[i + 1];
        switch (argv[i]) {
            case '--host': args.host = value; i++; break;
            case '--port': args.port = Number(value); i++; break;
            case '--mode': args.mode = value; i++; break;
            case '--cert': args.cert = value; i++; break;
            case '--key': args.key = value; i++; break;
            case '--store': args.store = value; i++; break;
            case '--user': args.users.push(value); i++; break;
            case '--domain': args.domains.push(value.toLowerCase()); i++; break;
            default:
                console.error(`unknown argument ${argv[i]}`);
                process.exit(2);
        }
    }
    if (!['plain', 'starttls', 'implicit'].includes(args.mode) || !args.store) {
        console.error('usage: --mode plain|starttls|implicit --store DIR [--cert C --key K] [--user NAME:PASSWORD] [--domain D]');
        process.exit(2);
    }
    return args;
}

const args = parseArgs(process.argv.slice(2));
for (const sub of ['tmp', 'new', 'cur', 'meta']) {
    fs.mkdirSync(path.join(args.store, sub), { recursive: true });
}
const users = new Map(args.users.map(spec => {
    const at = spec.indexOf(':');
    return [spec.slice(0, at), spec.slice(at + 1)];
}));
let counter = 0;

function store(session, chunks) {
    counter += 1;
    const name = String(counter).padStart(6, '0');
    const lines = [`mail_from=${session.envelope.mailFrom ? session.envelope.mailFrom.address : ''}`];
    for (const rcpt of session.envelope.rcptTo) {
        lines.push(`rcpt=${rcpt.address}`);
    }
    const params = session.envelope.mailFrom ? session.envelope.mailFrom.args || {} : {};
    for (const [key, value] of Object.entries(params)) {
        lines.push(`mail_option=${value === true ? key : `${key}=${value}`}`);
    }
    lines.push(`helo=${session.hostNameAppearsAs || '-'}`);
    lines.push(`tls=${session.secure ? 'TLS' : '-'}`);
    lines.push(`login=${session.user || '-'}`);
    fs.writeFileSync(path.join(args.store, 'meta', `${name}.meta`), lines.join('\n') + '\n');
    const tmp = path.join(args.store, 'tmp', `${name}.eml`);
    fs.writeFileSync(tmp, Buffer.concat(chunks));
    fs.renameSync(tmp, path.join(args.store, 'new', `${name}.eml`));
}

const options = {
    secure: args.mode === 'implicit',
    name: 'localhost',
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, session, callback) {
        if (users.has(auth.username) && users.get(auth.username) === auth.password) {
            return callback(null, { user: auth.username });
        }
        const err = new Error('Invalid username or password');
        err.responseCode = 535;
        return callback(err);
    },
    onRcptTo(address, session, callback) {
        const at = address.address.lastIndexOf('@');
        const domain = at < 0 ? '' : address.address.slice(at + 1).toLowerCase();
        // RFC 5321 §4.5.1: <Postmaster> without a domain, in any case, must
        // be accepted.
        const postmaster = at < 0 && address.address.toLowerCase() === 'postmaster';
        if (args.domains.length === 0 || args.domains.includes(domain) || postmaster) {
            return callback();
        }
        const err = new Error('Relay access denied');
        err.responseCode = 550;
        return callback(err);
    },
    onData(stream, session, callback) {
        const chunks = [];
        stream.on('data', chunk => chunks.push(chunk));
        stream.on('end', () => {
            store(session, chunks);
            callback(null, 'Message accepted for delivery');
        });
    },
};
if (args.mode === 'plain') {
    options.disabledCommands = ['STARTTLS', 'AUTH'];
} else {
    options.key = fs.readFileSync(args.key);
    options.cert = fs.readFileSync(args.cert);
}
if (users.size === 0) {
    options.disabledCommands = [...(options.disabledCommands || []), 'AUTH'];
}

const server = new SMTPServer(options);
server.on('error', err => console.error(`smtp-server: ${err.message}`));
server.listen(args.port, args.host, () => {
    const address = server.server.address();
    console.log(`listening on ${address.address}:${address.port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
        server.close(() => process.exit(0));
        // Open sessions would hold close() back: do not wait for them long.
        setTimeout(() => process.exit(0), 1000).unref();
    });
}
