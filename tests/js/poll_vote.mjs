// Poll-vote interop harness: Baileys' own decryptPollVote (src/Utils/process-message.ts).
//
// Reads one JSON object on stdin, writes one on stdout:
//   in:  {"votes": [{"encPayload": hex, "encIv": hex, "pollCreatorJid": str, "pollMsgId": str,
//                    "pollEncKey": hex, "voterJid": str}, ...]}
//   out: {"votes": [{"selectedOptions": [hex, ...]} | {"error": str}, ...]}
import { decryptPollVote } from '@whiskeysockets/baileys';

const unhex = (str) => Buffer.from(str, 'hex');
const hex = (buf) => Buffer.from(buf).toString('hex');

let input = '';
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
const votes = request.votes.map((v) => {
    try {
        const vote = decryptPollVote(
            { encPayload: unhex(v.encPayload), encIv: unhex(v.encIv) },
            {
                pollCreatorJid: v.pollCreatorJid,
                pollMsgId: v.pollMsgId,
                pollEncKey: unhex(v.pollEncKey),
                voterJid: v.voterJid,
            },
        );
        return { selectedOptions: vote.selectedOptions.map(hex) };
    } catch (e) {
        return { error: String(e.message || e) };
    }
});
process.stdout.write(JSON.stringify({ votes }));
