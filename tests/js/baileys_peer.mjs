// A long-running Baileys peer for the messaging tests, driven over JSON lines.
//
//   node baileys_peer.mjs --url WS_URL --root-key HEX64
//
// stdin: one command per line, `{"id": ..., "cmd": "...", ...arguments}`.
// stdout: one JSON line per reply (`{"id", "result"}` or `{"id", "error"}`) and per event
// (`{"event": NAME, ...}`). A bad line or a failing command only ever costs its own reply: the
// peer keeps running until `close` or the end of stdin. The Python side is tests/baileys_peer.py,
// which documents every command; `open` must come first (it links by QR on first use, streaming
// `{"event": "qr"}` lines to scan, and logs in from the saved credentials afterwards).
import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import {
	aesEncryptGCM,
	BufferJSON,
	decryptPollVote,
	DisconnectReason,
	generateWAMessageFromContent,
	getAggregateVotesInPollMessage,
	hmacSign,
	jidDecode,
	jidNormalizedUser,
	proto,
	sha256,
	updateMessageWithPollUpdate,
	useMultiFileAuthState
} from '@whiskeysockets/baileys'
import { isRootKey, makeSimulatorSocket, printLine, trustRootKey } from './simulator_socket.mjs'

const { values: args } = parseArgs({
	options: { url: { type: 'string' }, 'root-key': { type: 'string' } }
})
if (!args.url || !isRootKey(args['root-key'])) {
	console.error('usage: node baileys_peer.mjs --url WS_URL --root-key HEX64')
	process.exit(64)
}
trustRootKey(args['root-key'])
// stdout carries only our JSON lines: libsignal logs sessions with console.log/info/warn.
console.log = console.info = console.warn = console.debug = (...items) => console.error(...items)

// ---- JSON output ---------------------------------------------------------------------------

const isLong = value =>
	value && typeof value === 'object' && 'low' in value && 'high' in value && 'unsigned' in value

/** A protobuf `Message` as canonical JSON: enums by name, bytes in base64, longs as numbers. */
const messageJson = message => {
	if (!message) return null
	try {
		const canonical = proto.Message.decode(proto.Message.encode(message).finish())
		return proto.Message.toObject(canonical, { longs: Number, enums: String, bytes: String })
	} catch {
		return plain(message, false)
	}
}

/** Anything Baileys emits, made JSON-safe: bytes in base64, longs as numbers, no functions. */
const plain = (value, messages = true) => {
	if (value === null || value === undefined) return value ?? null
	if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64')
	if (isLong(value)) return Number(value.toString())
	if (typeof value === 'bigint') return Number(value)
	if (value instanceof Date) return value.toISOString()
	if (messages && value instanceof proto.Message) return messageJson(value)
	if (Array.isArray(value)) return value.map(item => plain(item, messages))
	if (typeof value === 'object') {
		const out = {}
		for (const [name, item] of Object.entries(value)) {
			if (typeof item === 'function' || item === undefined) continue
			out[name] = name === 'message' && messages && typeof item === 'object' ? messageJson(item) : plain(item, messages)
		}
		return out
	}
	return typeof value === 'function' ? null : value
}

const emit = event => printLine(plain(event))

process.on('unhandledRejection', error => void emit({ event: 'error', error: String(error?.stack ?? error) }))
process.on('uncaughtException', error => void emit({ event: 'error', error: String(error?.stack ?? error) }))

// ---- the socket and its messages -----------------------------------------------------------

let sock = null
let auth = null
let authDir = null
let pushName = null
let reconnect = false
let closing = false
let openWaiter = null
/** Every message seen or sent, by id: for quoting, forwarding, polls and Baileys' retries. */
const store = new Map()

// Credential writes, one after another; `close` waits for them, so exiting never cuts one short
// (a half-written creds.json would make the next start link as a new device).
let saving = Promise.resolve()
const saveCreds = () => {
	saving = saving.then(() => auth.saveCreds()).catch(error => emit({ event: 'error', error: String(error) }))
	return saving
}

const remember = message => {
	if (message?.key?.id && message.message) store.set(message.key.id, message)
}
// A retry receipt can arrive before sendMessage has returned (so before `remember`): wait for
// the sends in flight (at most two seconds, in case one waits on the receipt's handler).
const inFlight = new Set()
const getMessage = async key => {
	if (!store.has(key.id) && inFlight.size) {
		await Promise.race([Promise.allSettled([...inFlight]), new Promise(resolve => setTimeout(resolve, 2000))])
	}
	return store.get(key.id)?.message ?? undefined
}

const me = () => ({
	id: auth.state.creds.me?.id ?? null,
	lid: auth.state.creds.me?.lid ?? null,
	name: auth.state.creds.me?.name ?? null
})
const requireSocket = () => {
	if (!sock) throw new Error('not open: send "open" first')
	return sock
}

/** A stored message by its key (or the key's id); an error if the peer never saw it. */
const lookup = key => {
	const found = store.get(typeof key === 'string' ? key : key?.id)
	if (!found) throw new Error(`unknown message ${JSON.stringify(key)}`)
	return found
}

// Poll votes: Baileys decrypts them (decryptPollVote) but cannot send one, so the peer encrypts
// with the same key derivation; it tries each JID form (phone number or LID) the creator and
// voter may have used, as whatsmeow does during the LID migration.
const pollKey = (secret, pollId, creator, voter) => {
	const sign = Buffer.concat([
		Buffer.from(pollId),
		Buffer.from(creator),
		Buffer.from(voter),
		Buffer.from('Poll Vote'),
		Buffer.from([1])
	])
	return hmacSign(sign, hmacSign(secret, new Uint8Array(32)))
}
const pollAad = (pollId, voter) => Buffer.from(`${pollId}\u0000${voter}`)
const pollSecret = poll => {
	const secret = poll.message?.messageContextInfo?.messageSecret
	if (!secret) throw new Error(`message ${poll.key.id} has no poll secret`)
	return Buffer.from(secret)
}
const ownJids = () => [me().id, me().lid].filter(Boolean).map(jidNormalizedUser)
const authorJids = key => {
	if (key.fromMe) return ownJids()
	const jids = [key.participant || key.remoteJid, key.participantAlt || key.remoteJidAlt]
	return jids.filter(Boolean).map(jidNormalizedUser)
}
const pollOptions = poll => {
	const message = poll.message ?? {}
	const creation =
		message.pollCreationMessage ?? message.pollCreationMessageV2 ?? message.pollCreationMessageV3
	return (creation?.options ?? []).map(option => option.optionName ?? '')
}
const optionNames = (poll, hashes) => {
	const byHash = new Map(pollOptions(poll).map(name => [sha256(Buffer.from(name)).toString('base64'), name]))
	return hashes.map(hash => byHash.get(Buffer.from(hash).toString('base64')) ?? null)
}

/** Decrypt a received `pollUpdateMessage` against the stored poll; null if the poll is unknown. */
const decodeVote = message => {
	const update = message.message?.pollUpdateMessage
	const poll = store.get(update?.pollCreationMessageKey?.id)
	if (!poll) return { error: 'poll not known to this peer' }
	const secret = pollSecret(poll)
	for (const creator of authorJids(poll.key)) {
		for (const voter of authorJids(message.key)) {
			try {
				// Baileys' own decryption, so the vote encryption below is checked against it.
				const vote = decryptPollVote(update.vote, {
					pollCreatorJid: creator,
					pollMsgId: poll.key.id,
					pollEncKey: secret,
					voterJid: voter
				})
				updateMessageWithPollUpdate(poll, {
					pollUpdateMessageKey: message.key,
					vote,
					senderTimestampMs: Number(update.senderTimestampMs ?? 0)
				})
				return {
					poll_id: poll.key.id,
					creator,
					voter,
					selected: optionNames(poll, vote.selectedOptions ?? []),
					aggregate: getAggregateVotesInPollMessage(poll, me().id)
				}
			} catch {
				// wrong JID pair: try the next one
			}
		}
	}
	return { error: 'no creator/voter JID pair decrypts this vote' }
}

const onUpsert = ({ messages, type }) => {
	for (const message of messages) {
		remember(message)
		const event = {
			event: 'messages.upsert',
			type,
			key: message.key,
			pushName: message.pushName ?? null,
			messageTimestamp: message.messageTimestamp ?? null,
			// Baileys folds a receipt that arrives while the upsert is still buffered into it.
			status: message.status ?? null,
			messageStubType: message.messageStubType ?? null,
			messageStubParameters: message.messageStubParameters ?? null,
			message: messageJson(message.message)
		}
		if (message.message?.pollUpdateMessage && !message.key.fromMe) event.poll_vote = decodeVote(message)
		void emit(event)
	}
}

const forward = name => payload => void emit({ event: name, data: payload })

/** Called with each new socket: feature files (below) subscribe to its events here. */
const socketHooks = []

const connect = () => {
	const current = makeSimulatorSocket(args.url, auth.state, { getMessage })
	sock = current
	current.ev.on('creds.update', saveCreds)
	for (const hook of socketHooks) hook(current)
	current.ev.on('messages.upsert', onUpsert)
	current.ev.on('messages.update', updates => {
		for (const { key, update } of updates) void emit({ event: 'messages.update', key, update })
	})
	current.ev.on('message-receipt.update', updates => {
		for (const { key, receipt } of updates) void emit({ event: 'message-receipt.update', key, receipt })
	})
	current.ev.on('messages.reaction', reactions => {
		for (const { key, reaction } of reactions) void emit({ event: 'messages.reaction', key, reaction })
	})
	for (const name of ['presence.update', 'groups.upsert', 'groups.update', 'group-participants.update']) {
		current.ev.on(name, forward(name))
	}
	current.ev.on('connection.update', async update => {
		if (current !== sock) return
		if (update.qr) void emit({ event: 'qr', qr: update.qr })
		if (update.connection === 'open') {
			if (pushName && auth.state.creds.me && auth.state.creds.me.name !== pushName) {
				auth.state.creds.me.name = pushName
				await saveCreds()
			}
			void emit({ event: 'connection.update', connection: 'open', me: me() })
			openWaiter?.resolve(me())
			openWaiter = null
		} else if (update.connection === 'close') {
			const error = update.lastDisconnect?.error
			const code = error?.output?.statusCode ?? null
			void emit({ event: 'connection.update', connection: 'close', code, error: String(error?.message ?? error) })
			if (closing) return
			const permanent = [DisconnectReason.loggedOut, DisconnectReason.forbidden, DisconnectReason.connectionReplaced]
			if (code === DisconnectReason.restartRequired || (reconnect && !permanent.includes(code))) {
				connect()
				return
			}
			sock = null
			openWaiter?.reject(new Error(`connection closed (${code}): ${error?.message ?? error}`))
			openWaiter = null
		}
	})
}

/** Signal keys in memory, each value kept as the JSON useMultiFileAuthState would write (so
 * serializing stays in the cost, the disk does not): bench/messaging.py compares Baileys with
 * our in-memory store. Credentials still go to `auth_dir`; the keys die with the process. */
const memoryKeys = () => {
	const values = new Map()
	return {
		get: async (type, ids) => {
			const found = {}
			for (const id of ids) {
				const text = values.get(`${type}-${id}`)
				let value = text === undefined ? undefined : JSON.parse(text, BufferJSON.reviver)
				if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value)
				found[id] = value
			}
			return found
		},
		set: async data => {
			for (const [type, items] of Object.entries(data)) {
				for (const [id, value] of Object.entries(items)) {
					if (value) values.set(`${type}-${id}`, JSON.stringify(value, BufferJSON.replacer))
					else values.delete(`${type}-${id}`)
				}
			}
		}
	}
}

// ---- commands ------------------------------------------------------------------------------

/** Baileys content from JSON: message keys given for `forward` become the stored messages. */
const content = value => {
	if (value?.forward && !value.forward.message) return { ...value, forward: lookup(value.forward) }
	return value
}

const sent = message => {
	remember(message)
	return { key: message.key, messageTimestamp: message.messageTimestamp, message: messageJson(message.message) }
}

/** The pending `bench_receive_arm` count (bench/messaging.py). */
let benchReceiving = null

const commands = {
	/** {auth_dir, push_name?, reconnect?, memory_keys?}: connect (linking by QR on first use); → me.
	 * With memory_keys, Signal keys stay in memory (see memoryKeys; only for a fresh auth_dir). */
	open: async ({ auth_dir, push_name, reconnect: again, memory_keys }) => {
		if (sock) throw new Error('already open')
		if (!auth_dir) throw new Error('open needs auth_dir')
		auth = await useMultiFileAuthState(auth_dir)
		authDir = auth_dir
		if (memory_keys) auth.state.keys = memoryKeys()
		pushName = push_name ?? null
		reconnect = Boolean(again)
		closing = false
		const opened = new Promise((resolve, reject) => (openWaiter = { resolve, reject }))
		connect()
		return opened
	},
	me: async () => me(),
	ping: async () => 'pong',
	/** {jid, content, quoted?: key or {key, message}}: sock.sendMessage; → {key, messageTimestamp, message}. */
	send: async ({ jid, content: value, quoted }) => {
		const options = {}
		if (quoted) options.quoted = quoted.message ? { ...quoted, message: proto.Message.fromObject(quoted.message) } : lookup(quoted)
		const sending = requireSocket().sendMessage(jid, content(value), options)
		inFlight.add(sending)
		try {
			return sent(await sending)
		} finally {
			inFlight.delete(sending)
		}
	},
	/** {poll_key, options: [names]}: vote on a stored poll (an empty list removes the vote). */
	vote: async ({ poll_key, options }) => {
		const socket = requireSocket()
		const poll = lookup(poll_key)
		const known = pollOptions(poll)
		const unknown = options.filter(name => !known.includes(name))
		if (unknown.length) throw new Error(`not options of this poll: ${unknown.join(', ')}`)
		const [creator] = authorJids(poll.key)
		const isLid = jidDecode(creator)?.server === 'lid'
		const voter = jidNormalizedUser(isLid && me().lid ? me().lid : me().id)
		const selectedOptions = options.map(name => sha256(Buffer.from(name)))
		const plaintext = proto.Message.PollVoteMessage.encode({ selectedOptions }).finish()
		const encIv = randomBytes(12)
		const secret = pollSecret(poll)
		const encPayload = aesEncryptGCM(plaintext, pollKey(secret, poll.key.id, creator, voter), encIv, pollAad(poll.key.id, voter))
		const message = generateWAMessageFromContent(
			poll.key.remoteJid,
			{
				pollUpdateMessage: {
					pollCreationMessageKey: poll.key,
					vote: { encPayload, encIv },
					senderTimestampMs: Date.now()
				}
			},
			{ userJid: me().id }
		)
		await socket.relayMessage(poll.key.remoteJid, message.message, {
			messageId: message.key.id,
			additionalNodes: [{ tag: 'meta', attrs: { polltype: 'vote' } }]
		})
		updateMessageWithPollUpdate(poll, {
			pollUpdateMessageKey: message.key,
			vote: { selectedOptions },
			senderTimestampMs: Date.now()
		})
		return { ...sent(message), creator, voter, aggregate: plain(getAggregateVotesInPollMessage(poll, me().id)) }
	},
	/** {poll_key}: the stored poll's votes as Baileys aggregates them. */
	poll_votes: async ({ poll_key }) => getAggregateVotesInPollMessage(lookup(poll_key), me().id),
	/** {keys}: read receipts, as an app sends them (readMessages looks up privacy settings). */
	read: async ({ keys }) => requireSocket().readMessages(keys),
	/** {keys, type}: receipts of that type (read, read-self, played…), no privacy lookup. */
	receipts: async ({ keys, type }) => requireSocket().sendReceipts(keys, type ?? 'read'),
	/** {type: available|unavailable|composing|recording|paused, jid?}. */
	presence: async ({ type, jid }) => requireSocket().sendPresenceUpdate(type, jid),
	subscribe_presence: async ({ jid }) => requireSocket().presenceSubscribe(jid),
	on_whatsapp: async ({ jids }) => (await requireSocket().onWhatsApp(...jids)) ?? [],
	group_create: async ({ subject, participants }) => requireSocket().groupCreate(subject, participants),
	group_metadata: async ({ jid }) => requireSocket().groupMetadata(jid),
	group_fetch_all: async () => requireSocket().groupFetchAllParticipating(),
	group_participants_update: async ({ jid, participants, action }) =>
		requireSocket().groupParticipantsUpdate(jid, participants, action),
	group_update_subject: async ({ jid, subject }) => requireSocket().groupUpdateSubject(jid, subject),
	group_update_description: async ({ jid, description }) =>
		requireSocket().groupUpdateDescription(jid, description),
	group_leave: async ({ jid }) => requireSocket().groupLeave(jid),
	group_invite_code: async ({ jid }) => requireSocket().groupInviteCode(jid),
	group_accept_invite: async ({ code }) => requireSocket().groupAcceptInvite(code),
	/** {users: [phone or LID user]}: forget every Signal session with those users' devices
	 * (PN and LID addresses), as Baileys itself does before recreating one; → the dropped ids. */
	drop_sessions: async ({ users }) => {
		if (!auth) throw new Error('not open: send "open" first')
		const wanted = new Set(users)
		const dropped = (await readdir(authDir))
			.map(file => /^session-(.+)\.json$/.exec(file)?.[1])
			.filter(id => id && wanted.has(id.split('.')[0].split('_')[0]))
		await auth.state.keys.set({ session: Object.fromEntries(dropped.map(id => [id, null])) })
		return dropped
	},
	/** {group, users}: forget the sender keys those users' devices sent us for `group` (file
	 * names stand for `group::name::device` with ':' written as '-'); → the dropped ids. */
	drop_sender_keys: async ({ group, users }) => {
		if (!auth) throw new Error('not open: send "open" first')
		const wanted = new Set(users)
		const prefix = `sender-key-${group}--`
		const dropped = (await readdir(authDir))
			.filter(file => file.startsWith(prefix) && file.endsWith('.json'))
			.map(file => `${group}::${file.slice(prefix.length, -'.json'.length).replace('--', '::')}`)
			.filter(id => wanted.has(id.split('::')[1].split('_')[0]))
		await auth.state.keys.set({ 'sender-key': Object.fromEntries(dropped.map(id => [id, null])) })
		return dropped
	},
	/** {jid, count, pipelined?}: bench/messaging.py's send loop, timed here (no pipe per message):
	 * `count` texts, each done when the server acked it (one at a time, or all in flight). */
	bench_send: async ({ jid, count, pipelined }) => {
		const socket = requireSocket()
		const acks = new Map()
		const onAck = node => acks.get(node.attrs.id)?.()
		socket.ws.on('CB:ack,class:message', onAck)
		const sendOne = async index => {
			const messageId = `3EB0BE${randomBytes(8).toString('hex').toUpperCase()}`
			const acked = new Promise(resolve => acks.set(messageId, resolve))
			await socket.sendMessage(jid, { text: `bench ${index}` }, { messageId })
			await acked
			acks.delete(messageId)
		}
		try {
			const start = performance.now()
			if (pipelined) await Promise.all(Array.from({ length: count }, (_, i) => sendOne(i)))
			else for (let i = 0; i < count; i++) await sendOne(i)
			return { seconds: (performance.now() - start) / 1000 }
		} finally {
			socket.ws.off('CB:ack,class:message', onAck)
		}
	},
	/** {chat, count}: start counting messages from others in `chat` (bench/messaging.py arms
	 * this, then starts the senders, then sends `bench_receive_wait`). */
	bench_receive_arm: async ({ chat, count }) => {
		const socket = requireSocket()
		let seen = 0
		benchReceiving = new Promise(resolve => {
			const onUpsert = ({ messages }) => {
				seen += messages.filter(m => !m.key.fromMe && m.key.remoteJid === chat).length
				if (seen >= count) {
					socket.ev.off('messages.upsert', onUpsert)
					resolve({ received: seen })
				}
			}
			socket.ev.on('messages.upsert', onUpsert)
		})
		return null
	},
	/** Answer once the armed count of messages reached the app. */
	bench_receive_wait: async () => {
		if (!benchReceiving) throw new Error('send bench_receive_arm first')
		return benchReceiving
	},
	/** End the connection (credentials stay) and exit once this reply is written. */
	close: async () => {
		closing = true
		sock?.end(undefined)
		sock = null
		await saving
		return null
	}
}

// Feature files: every `peer_*.mjs` beside this one exports `register(context)` and adds its
// commands (and socket hooks) there, so features grow without editing this file.
const featureContext = { commands, socketHooks, emit, plain, messageJson, requireSocket, lookup, remember, sent, me, content }
for (const file of (await readdir(new URL('.', import.meta.url))).sort()) {
	if (/^peer_[a-z0-9_]+\.mjs$/.test(file)) (await import(new URL(file, import.meta.url))).register(featureContext)
}

const handle = async line => {
	let request
	try {
		request = JSON.parse(line)
	} catch (error) {
		return emit({ event: 'bad_command', error: `bad JSON: ${error.message}` })
	}
	const id = request?.id ?? null
	const command = commands[request?.cmd]
	if (!command || typeof request !== 'object') return emit({ id, error: `unknown command ${JSON.stringify(request?.cmd)}` })
	try {
		const result = await command(request)
		await emit({ id, result: result ?? null })
		if (request.cmd === 'close') process.exit(0)
	} catch (error) {
		await emit({ id, error: String(error?.message ?? error) })
	}
}

const input = createInterface({ input: process.stdin })
input.on('line', line => {
	if (line.trim()) void handle(line)
})
input.on('close', async () => {
	closing = true
	sock?.end(undefined)
	await saving
	process.exit(0)
})
