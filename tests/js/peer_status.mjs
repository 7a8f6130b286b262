// Status broadcasts for the Baileys peer (tests/e2e/test_status_broadcast.py).
//
// Commands:
//   send_status {text, recipients}: sock.sendMessage('status@broadcast', {text},
//     {statusJidList: recipients}), a text status shown to `recipients` (user JIDs): Baileys lists
//     their devices in the stanza's <participants> with the sender key, as WhatsApp expects;
//     → {key, messageTimestamp, message} as `send`.

export const register = ({ commands, requireSocket, sent }) => {
	commands.send_status = async ({ text, recipients }) =>
		sent(await requireSocket().sendMessage('status@broadcast', { text }, { statusJidList: recipients }))
}
