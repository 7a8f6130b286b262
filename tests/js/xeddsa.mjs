// XEdDSA interop harness: libsignal-node's curve (calculateSignature / verifySignature).
//
// Reads one JSON object on stdin and writes one JSON object on stdout, so one node process
// handles a whole batch:
//   in:  {"verify": [{"pub": hex, "msg": hex, "sig": hex}, ...],
//         "sign":   [{"priv": hex | null, "msg": hex}, ...]}     (null: generate a key pair)
//   out: {"verify": [true | false | "error: ...", ...],
//         "sign":   [{"pub": hex (33 bytes, 05-prefixed), "msg": hex, "sig": hex,
//                     "tampered": [{"kind": str, "msg": hex, "sig": hex, "valid": bool|str}]}]}
// Every tampered variant of a libsignal signature is checked here too, so the caller can check
// the very same bytes on its side.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { curve } = require('libsignal');

const hex = (buf) => Buffer.from(buf).toString('hex');
const unhex = (str) => Buffer.from(str, 'hex');

function check(pub, msg, sig) {
    try {
        return curve.verifySignature(pub, msg, sig) === true;
    } catch (e) {
        return `error: ${e.message}`;
    }
}

function flip(buf, index, mask) {
    const copy = Buffer.from(buf);
    copy[index] ^= mask;
    return copy;
}

function tamperings(msg, sig) {
    return [
        { kind: 'message', msg: flip(msg, 0, 0x01), sig },
        { kind: 'R', msg, sig: flip(sig, 5, 0x10) },
        { kind: 's', msg, sig: flip(sig, 40, 0x01) },
        { kind: 'sign bit', msg, sig: flip(sig, 63, 0x80) },
    ];
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const verify = (request.verify ?? []).map((c) => check(unhex(c.pub), unhex(c.msg), unhex(c.sig)));

const sign = (request.sign ?? []).map((c) => {
    let priv;
    let pub;
    if (c.priv === null) {
        ({ privKey: priv, pubKey: pub } = curve.generateKeyPair());
    } else {
        priv = unhex(c.priv);
        pub = curve.getPublicFromPrivateKey(priv);
    }
    const msg = unhex(c.msg);
    const sig = curve.calculateSignature(priv, msg);
    return {
        pub: hex(pub),
        msg: hex(msg),
        sig: hex(sig),
        valid: check(pub, msg, sig),
        tampered: tamperings(msg, sig).map((t) => ({
            kind: t.kind,
            msg: hex(t.msg),
            sig: hex(t.sig),
            valid: check(pub, t.msg, t.sig),
        })),
    };
});

process.stdout.write(JSON.stringify({ verify, sign }));
