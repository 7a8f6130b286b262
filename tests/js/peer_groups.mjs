// Group pictures for the Baileys peer (tests/e2e/test_groups.py).
//
// Baileys' own updateProfilePicture needs an image library to resize; the tests send a JPEG
// that is already the right shape, so the IQ is sent as WhatsApp Web does, unchanged.
// Commands:
//   group_set_picture {jid, jpeg (base64) | null}: set (or remove) the group's picture; the
//     picture's new id, or null when removed.

export const register = ({ commands, requireSocket }) => {
	commands.group_set_picture = async ({ jid, jpeg }) => {
		const content = jpeg ? [{ tag: 'picture', attrs: { type: 'image' }, content: Buffer.from(jpeg, 'base64') }] : undefined
		const answer = await requireSocket().query({
			tag: 'iq',
			attrs: { target: jid, to: 's.whatsapp.net', type: 'set', xmlns: 'w:profile:picture' },
			content,
		})
		const picture = answer.content?.find?.(node => node.tag === 'picture')
		return picture?.attrs?.id ?? null
	}
}
