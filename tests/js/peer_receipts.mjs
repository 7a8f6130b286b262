// Disappearing messages for the Baileys peer (tests/e2e/test_disappearing.py).
//
// Commands:
//   send_ephemeral {jid, text, expiration}: sock.sendMessage(jid, {text}, {ephemeralExpiration}),
//     a text that disappears `expiration` seconds after it is sent (contextInfo.expiration,
//     inside an ephemeralMessage); → {key, messageTimestamp, message} as `send`.
//   set_disappearing {jid, expiration}: sock.sendMessage(jid, {disappearingMessagesInChat}),
//     the chat's timer change (a protocolMessage EPHEMERAL_SETTING; 0 turns it off).
//   send_view_once {jid, data}: a view-once JPEG (`data` base64), uploaded to the simulator's
//     media host; → {key, messageTimestamp, message} as `send`.

export const register = ({ commands, requireSocket, sent }) => {
	commands.send_view_once = async ({ jid, data }) =>
		sent(
			await requireSocket().sendMessage(jid, {
				image: Buffer.from(data, 'base64'),
				mimetype: 'image/jpeg',
				jpegThumbnail: Buffer.alloc(0),
				viewOnce: true
			})
		)
	commands.send_ephemeral = async ({ jid, text, expiration }) =>
		sent(await requireSocket().sendMessage(jid, { text }, { ephemeralExpiration: expiration }))
	commands.set_disappearing = async ({ jid, expiration }) =>
		sent(await requireSocket().sendMessage(jid, { disappearingMessagesInChat: expiration || false }))
}
