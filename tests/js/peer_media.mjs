// Media for the Baileys peer (tests/js/baileys_peer.mjs): send each media kind with the fields
// our client's builders fill, and time an upload + download for bench/media.py. Downloads (with
// media retry) are peer_media_sim.mjs's `media_download`.
import { stat } from 'node:fs/promises'
import { downloadContentFromMessage, prepareWAMessageMedia } from '@whiskeysockets/baileys'
import pino from 'pino'

const logger = pino({ level: 'silent' })
const bytes = value => (value === undefined || value === null ? undefined : Buffer.from(value, 'base64'))

/** Baileys content for one media kind. Fields Baileys would compute with system tools (video
 * thumbnails with ffmpeg, audio duration and waveform with optional decoders) are passed in. */
const mediaContent = ({ kind, data, path, caption, mimetype, file_name, seconds, waveform, thumbnail }) => {
	const media = data !== undefined ? bytes(data) : { url: path }
	const thumb = bytes(thumbnail) ?? Buffer.alloc(0)
	switch (kind) {
		case 'image':
			return { image: media, caption, mimetype, jpegThumbnail: thumb }
		case 'video':
		case 'gif':
			return { video: media, caption, mimetype, seconds, gifPlayback: kind === 'gif', jpegThumbnail: thumb }
		case 'audio':
		case 'ptt':
			return { audio: media, mimetype, seconds: seconds ?? 1, ptt: kind === 'ptt', waveform: bytes(waveform) ?? Buffer.alloc(64) }
		case 'document':
			return { document: media, mimetype: mimetype ?? 'application/octet-stream', fileName: file_name, caption }
		case 'sticker':
			return { sticker: media, mimetype }
		default:
			throw new Error(`unknown media kind ${kind}`)
	}
}

const drop = value => Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined))

export const register = ({ commands, requireSocket, lookup, sent }) => {
	/** {jid, kind, data (base64) | path, caption?, mimetype?, file_name?, seconds?, waveform?,
	 * thumbnail?, quoted?}: sendMessage with the media; → {key, messageTimestamp, message}. */
	commands.send_media = async ({ jid, quoted, ...fields }) => {
		const options = quoted ? { quoted: lookup(quoted) } : {}
		return sent(await requireSocket().sendMessage(jid, drop(mediaContent(fields)), options))
	}
	/** {path}: time Baileys' encrypt + upload, then download + decrypt, of a file as a document;
	 * → {upload_seconds, download_seconds, size}. */
	commands.bench_media = async ({ path }) => {
		const sock = requireSocket()
		const expected = (await stat(path)).size
		let start = performance.now()
		const prepared = await prepareWAMessageMedia(
			{ document: { url: path }, mimetype: 'application/octet-stream' },
			{ upload: sock.waUploadToServer, logger }
		)
		const uploadSeconds = (performance.now() - start) / 1000
		start = performance.now()
		const stream = await downloadContentFromMessage(prepared.documentMessage, 'document')
		let size = 0
		for await (const chunk of stream) size += chunk.length
		const downloadSeconds = (performance.now() - start) / 1000
		if (size !== expected) throw new Error(`downloaded ${size} bytes of ${expected}`)
		return { upload_seconds: uploadSeconds, download_seconds: downloadSeconds, size }
	}
}
