// Disappearing messages for the Baileys peer (tests/e2e/test_disappearing.py).
//
// Commands:
//   send_ephemeral {jid, text, expiration}: sock.sendMessage(jid, {text}, {ephemeralExpiration}),
//     a text that disappears `expiration` seconds after it is sent (contextInfo.expiration,
//     inside an ephemeralMessage); → {key, messageTimestamp, message} as `send`.
//   set_disappearing {jid, expiration}: sock.sendMessage(jid, {disappearingMessagesInChat}),
//     the chat's timer change (a protocolMessage EPHEMERAL_SETTING; 0 turns it off).

export const register = ({ commands, requireSocket, sent }) => {
	commands.send_ephemeral = async ({ jid, text, expiration }) =>
		sent(await requireSocket().sendMessage(jid, { text }, { ephemeralExpiration: expiration }))
	commands.set_disappearing = async ({ jid, expiration }) =>
		sent(await requireSocket().sendMessage(jid, { disappearingMessagesInChat: expiration || false }))
}
