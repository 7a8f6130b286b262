// Protobuf interop harness: Baileys' compiled WAProto is the independent encoder/decoder that
// checks our .proto field numbers and types.
//
// Protocol (one process for the whole batch, one JSON document per line):
//   1. we print   {"samples": [{"name", "type", "hex"}]}  -- Baileys' encoding of each sample
//   2. we read    {"results": [{"name", "hex"}]}          -- the caller's re-encoding of each
//   3. we print   {"checks": [{"name", "ok", "baileys", "ours"}]}
// A check is ok when Baileys decodes the caller's bytes to the same object as its own bytes.
import { createInterface } from 'node:readline'
import { proto } from '@whiskeysockets/baileys'

const fill = (byte, len) => Buffer.alloc(len, byte)
const encode = (type, obj) => Buffer.from(proto[type].encode(proto[type].fromObject(obj)).finish())

const deviceProps = {
	os: 'Mautrix-WhatsApp',
	version: { primary: 0, secondary: 1, tertiary: 0 },
	platformType: 1, // CHROME
	requireFullSync: false,
	historySyncConfig: {
		fullSyncDaysLimit: 3650,
		fullSyncSizeMbLimit: 102400,
		storageQuotaMb: 102400,
		inlineInitialPayloadInE2EeMsg: true,
		recentSyncDaysLimit: 30,
		supportCallLogHistory: false,
		supportBotUserAgentChatHistory: true,
		supportCagReactionsAndPolls: true,
		supportBizHostedMsg: true,
		supportRecentSyncChunkMessageCountTuning: true,
		supportHostedGroupMsg: true,
		supportFbidBotChatHistory: true,
		supportAddOnHistorySyncMigration: false,
		supportMessageAssociation: true,
		supportGroupHistory: false,
		onDemandReady: true,
		supportGuestChat: false,
		completeOnDemandReady: true,
		thumbnailSyncDaysLimit: 60,
	},
}

const userAgent = {
	platform: 14, // WEB
	appVersion: { primary: 2, secondary: 3000, tertiary: 1045649367 },
	mcc: '000',
	mnc: '000',
	osVersion: '0.1',
	manufacturer: '',
	device: 'Desktop',
	osBuildNumber: '0.1',
	releaseChannel: 0, // RELEASE
	localeLanguageIso6391: 'en',
	localeCountryIso31661Alpha2: 'US',
}

const registrationPayload = {
	passive: false,
	pull: false,
	userAgent,
	webInfo: { webSubPlatform: 0 }, // WEB_BROWSER
	connectType: 1, // WIFI_UNKNOWN
	connectReason: 1, // USER_ACTIVATED
	devicePairingData: {
		eRegid: Buffer.from([0x00, 0x00, 0x30, 0x39]),
		eKeytype: Buffer.from([0x05]),
		eIdent: fill(0xa1, 32),
		eSkeyId: Buffer.from([0x00, 0x00, 0x01]),
		eSkeyVal: fill(0xb2, 32),
		eSkeySig: fill(0xc3, 64),
		buildHash: fill(0xd4, 16),
		deviceProps: encode('DeviceProps', deviceProps),
	},
}

const loginPayload = {
	username: 15551234567,
	device: 7,
	passive: true,
	pull: true,
	lidDbMigrated: true,
	lc: 1,
	userAgent,
	webInfo: { webSubPlatform: 0 },
	connectType: 1,
	connectReason: 1,
	dnsSource: { dnsMethod: 2, appCached: false }, // HARDCODED
	connectAttemptCount: 3,
	sessionId: -123456789,
	shards: [1, 2, 300],
	product: 0,
	oc: false,
}

const deviceIdentity = { rawId: 3456789, timestamp: 1764000000, keyIndex: 4, accountType: 0, deviceType: 0 }
const signedDeviceIdentity = {
	details: encode('ADVDeviceIdentity', deviceIdentity),
	accountSignatureKey: fill(0x21, 32),
	accountSignature: fill(0x22, 64),
	deviceSignature: fill(0x23, 64),
}
const signedDeviceIdentityHMAC = {
	details: encode('ADVSignedDeviceIdentity', signedDeviceIdentity),
	hmac: fill(0x24, 32),
	accountType: 1, // HOSTED
}
const keyIndexList = { rawId: 3456789, timestamp: 1764000001, currentIndex: 5, validIndexes: [0, 4, 5], accountType: 0 }
const signedKeyIndexList = {
	details: encode('ADVKeyIndexList', keyIndexList),
	accountSignature: fill(0x25, 64),
	accountSignatureKey: fill(0x26, 32),
}

const DM = '15557654321@s.whatsapp.net'
const GROUP = '120363025246125486@g.us'
const OWN = '15551234567@s.whatsapp.net'

const imageMessage = {
	imageMessage: {
		url: 'https://mmg.whatsapp.net/v/t62.7118-24/11111_22222_n.enc?ccb=11-4&oh=01_Q5&oe=6800AAAA&_nc_sid=5e03e0&mms3=true',
		mimetype: 'image/jpeg',
		caption: 'sunset 🌅',
		fileSha256: fill(0x31, 32),
		fileLength: 204800,
		height: 1280,
		width: 960,
		mediaKey: fill(0x32, 32),
		fileEncSha256: fill(0x33, 32),
		directPath: '/v/t62.7118-24/11111_22222_n.enc?ccb=11-4&oh=01_Q5&oe=6800AAAA&_nc_sid=5e03e0',
		mediaKeyTimestamp: 1764000100,
		jpegThumbnail: fill(0x34, 200),
		scansSidecar: fill(0x35, 40),
		scanLengths: [2000, 8000, 30000, 164800],
		midQualityFileSha256: fill(0x36, 32),
		viewOnce: false,
		contextInfo: { expiration: 604800, ephemeralSettingTimestamp: 1763000000 },
	},
	messageContextInfo: {
		deviceListMetadata: {
			senderKeyHash: fill(0x37, 10),
			senderTimestamp: 1763999000,
			senderKeyIndexes: [0, 2],
			recipientKeyHash: fill(0x38, 10),
			recipientTimestamp: 1763999500,
			recipientKeyIndexes: [0, 1, 9],
		},
		deviceListMetadataVersion: 2,
		messageSecret: fill(0x39, 32),
	},
}

const quotedReply = {
	extendedTextMessage: {
		text: 'Replying to @15557654321 and @15550000001',
		previewType: 0,
		contextInfo: {
			stanzaId: '3EB0C0FFEE1234567890',
			participant: DM,
			remoteJid: GROUP,
			quotedMessage: { conversation: 'original message' },
			mentionedJid: [DM, '15550000001@s.whatsapp.net'],
			isForwarded: true,
			forwardingScore: 2,
			expiration: 86400,
			groupMentions: [{ groupJid: GROUP, groupSubject: 'Team' }],
		},
		inviteLinkGroupTypeV2: 0,
	},
}

const linkPreview = {
	extendedTextMessage: {
		text: 'see https://example.org/page',
		matchedText: 'https://example.org/page',
		title: 'Example page',
		description: 'An example',
		previewType: 0,
		jpegThumbnail: fill(0x41, 64),
		textArgb: 0xffffffff,
		backgroundArgb: 0xff000000,
		font: 1,
	},
}

const reaction = {
	reactionMessage: {
		key: { remoteJid: GROUP, fromMe: false, id: '3EB0AAAABBBBCCCC', participant: DM },
		text: '❤️',
		senderTimestampMs: 1764000200123,
	},
}

const historyNotification = {
	protocolMessage: {
		type: 5, // HISTORY_SYNC_NOTIFICATION
		historySyncNotification: {
			fileSha256: fill(0x51, 32),
			fileLength: 1048576,
			mediaKey: fill(0x52, 32),
			fileEncSha256: fill(0x53, 32),
			directPath: '/v/t62.36145-24/33333_44444_n.enc?ccb=11-4&oh=01_Q5&oe=6800BBBB&_nc_sid=5e03e0',
			syncType: 0, // INITIAL_BOOTSTRAP
			chunkOrder: 1,
			originalMessageId: '3EB0HISTORY000001',
			progress: 42,
			oldestMsgInChunkTimestampSec: 1700000000,
			initialHistBootstrapInlinePayload: fill(0x54, 100),
			peerDataRequestSessionId: 'sess-1',
		},
	},
}

const keyShare = {
	protocolMessage: {
		type: 6, // APP_STATE_SYNC_KEY_SHARE
		appStateSyncKeyShare: {
			keys: [
				{
					keyId: { keyId: Buffer.from([0x00, 0x00, 0x00, 0x00, 0x5a, 0x01]) },
					keyData: {
						keyData: fill(0x61, 32),
						fingerprint: { rawId: 3456789, currentIndex: 5, deviceIndexes: [0, 5] },
						timestamp: 1764000300000,
					},
				},
			],
		},
	},
}

const keyRequest = {
	protocolMessage: {
		type: 7, // APP_STATE_SYNC_KEY_REQUEST
		appStateSyncKeyRequest: { keyIds: [{ keyId: Buffer.from([0, 0, 0, 0, 0x5a, 0x02]) }] },
	},
}

const onDemandRequest = {
	protocolMessage: {
		type: 16, // PEER_DATA_OPERATION_REQUEST_MESSAGE
		peerDataOperationRequestMessage: {
			peerDataOperationRequestType: 3, // HISTORY_SYNC_ON_DEMAND
			historySyncOnDemandRequest: {
				chatJid: DM,
				oldestMsgId: '3EB0OLDEST',
				oldestMsgFromMe: true,
				onDemandMsgCount: 50,
				oldestMsgTimestampMs: 1700000000,
			},
			placeholderMessageResendRequest: [{ messageKey: { remoteJid: DM, fromMe: false, id: '3EB0MISSING' } }],
		},
	},
}

const edit = {
	protocolMessage: {
		key: { remoteJid: DM, fromMe: true, id: '3EB0EDITED' },
		type: 14, // MESSAGE_EDIT
		editedMessage: { conversation: 'fixed typo' },
		timestampMs: 1764000400000,
	},
}

const revoke = { protocolMessage: { key: { remoteJid: GROUP, fromMe: true, id: '3EB0GONE' }, type: 0 } }

const ephemeralSetting = {
	protocolMessage: { type: 3, ephemeralExpiration: 604800, ephemeralSettingTimestamp: 1764000500 },
}

const poll = {
	pollCreationMessageV3: {
		name: 'Lunch?',
		options: [{ optionName: 'Pizza' }, { optionName: 'Sushi' }, { optionName: 'Salad' }],
		selectableOptionsCount: 1,
	},
	messageContextInfo: { messageSecret: fill(0x71, 32) },
}

const pollV1 = {
	pollCreationMessage: {
		encKey: fill(0x72, 32),
		name: 'Old poll',
		options: [{ optionName: 'A', optionHash: 'aa' }, { optionName: 'B' }],
		selectableOptionsCount: 0,
		contextInfo: { mentionedJid: [DM] },
	},
}

const pollV2 = { pollCreationMessageV2: { name: 'Multi', options: [{ optionName: 'X' }], selectableOptionsCount: 0 } }

const pollVote = {
	pollUpdateMessage: {
		pollCreationMessageKey: { remoteJid: GROUP, fromMe: true, id: '3EB0POLL' },
		vote: { encPayload: fill(0x73, 48), encIv: fill(0x74, 12) },
		senderTimestampMs: 1764000600000,
	},
}

const deviceSent = {
	deviceSentMessage: {
		destinationJid: DM,
		message: { conversation: 'hello from my phone' },
		phash: '2:abcdef',
	},
	messageContextInfo: { messageSecret: fill(0x81, 32) },
}

const senderKey = {
	senderKeyDistributionMessage: { groupId: GROUP, axolotlSenderKeyDistributionMessage: fill(0x91, 90) },
	conversation: 'group hello',
}

const mediaKinds = {
	videoMessage: {
		url: 'https://mmg.whatsapp.net/v/video.enc',
		mimetype: 'video/mp4',
		fileSha256: fill(0xa1, 32),
		fileLength: 5000000,
		seconds: 12,
		mediaKey: fill(0xa2, 32),
		caption: 'clip',
		gifPlayback: true,
		height: 720,
		width: 1280,
		fileEncSha256: fill(0xa3, 32),
		directPath: '/v/video.enc?x=1',
		mediaKeyTimestamp: 1764000700,
		jpegThumbnail: fill(0xa4, 30),
		streamingSidecar: fill(0xa5, 20),
		gifAttribution: 1,
	},
}

const audio = {
	audioMessage: {
		url: 'https://mmg.whatsapp.net/v/audio.enc',
		mimetype: 'audio/ogg; codecs=opus',
		fileSha256: fill(0xb1, 32),
		fileLength: 12345,
		seconds: 7,
		ptt: true,
		mediaKey: fill(0xb2, 32),
		fileEncSha256: fill(0xb3, 32),
		directPath: '/v/audio.enc?x=1',
		mediaKeyTimestamp: 1764000800,
		waveform: fill(0xb4, 64),
	},
}

const documentWithCaption = {
	documentWithCaptionMessage: {
		message: {
			documentMessage: {
				url: 'https://mmg.whatsapp.net/v/doc.enc',
				mimetype: 'application/pdf',
				title: 'report',
				fileSha256: fill(0xc1, 32),
				fileLength: 99999,
				pageCount: 3,
				mediaKey: fill(0xc2, 32),
				fileName: 'report.pdf',
				fileEncSha256: fill(0xc3, 32),
				directPath: '/v/doc.enc?x=1',
				mediaKeyTimestamp: 1764000900,
				caption: 'the report',
				contextInfo: { stanzaId: '3EB0Q', participant: DM, quotedMessage: { conversation: 'send it' } },
			},
		},
	},
}

const sticker = {
	stickerMessage: {
		url: 'https://mmg.whatsapp.net/v/sticker.enc',
		fileSha256: fill(0xd1, 32),
		fileEncSha256: fill(0xd2, 32),
		mediaKey: fill(0xd3, 32),
		mimetype: 'image/webp',
		height: 512,
		width: 512,
		directPath: '/v/sticker.enc?x=1',
		fileLength: 30000,
		mediaKeyTimestamp: 1764001000,
		isAnimated: true,
		pngThumbnail: fill(0xd4, 16),
	},
}

const location = {
	locationMessage: {
		degreesLatitude: 52.52,
		degreesLongitude: 13.405,
		name: 'Berlin',
		address: 'Alexanderplatz',
		url: 'https://maps.example.org/x',
		accuracyInMeters: 15,
		speedInMps: 1.5,
		degreesClockwiseFromMagneticNorth: 90,
		comment: 'here',
		jpegThumbnail: fill(0xe1, 20),
	},
}

const liveLocation = {
	liveLocationMessage: {
		degreesLatitude: -33.8688,
		degreesLongitude: 151.2093,
		accuracyInMeters: 10,
		speedInMps: 0.5,
		degreesClockwiseFromMagneticNorth: 180,
		caption: 'walking',
		sequenceNumber: 1764001100000,
		timeOffset: 30,
	},
}

const vcard = 'BEGIN:VCARD\nVERSION:3.0\nFN:Alice\nTEL;type=CELL;waid=15550000002:+1 555 000 0002\nEND:VCARD'
const contacts = {
	contactsArrayMessage: {
		displayName: '2 contacts',
		contacts: [
			{ displayName: 'Alice', vcard },
			{ displayName: 'Bob', vcard: vcard.replace('Alice', 'Bob') },
		],
	},
}

const contact = { contactMessage: { displayName: 'Alice', vcard } }

const ephemeralViewOnce = {
	ephemeralMessage: {
		message: {
			viewOnceMessageV2: {
				message: { imageMessage: { mimetype: 'image/jpeg', viewOnce: true, mediaKey: fill(0xf1, 32) } },
			},
		},
	},
}

const editWrapper = {
	editedMessage: {
		message: {
			protocolMessage: {
				key: { remoteJid: DM, fromMe: true, id: '3EB0EDIT2' },
				type: 14,
				editedMessage: { extendedTextMessage: { text: 'edited text' } },
				timestampMs: 1764001200000,
			},
		},
	},
}

const webMessages = [
	{
		key: { remoteJid: GROUP, fromMe: false, id: '3EB0HIST1', participant: DM },
		message: { extendedTextMessage: { text: 'first', contextInfo: { expiration: 86400 } } },
		messageTimestamp: 1700000100,
		status: 4, // READ
		participant: DM,
		pushName: 'Bob',
		reactions: [
			{ key: { remoteJid: GROUP, fromMe: true, id: '3EB0REACT' }, text: '👍', senderTimestampMs: 1700000200000 },
		],
		userReceipt: [{ userJid: OWN, receiptTimestamp: 1700000150, readTimestamp: 1700000160 }],
		messageSecret: fill(0x12, 32),
	},
	{
		key: { remoteJid: GROUP, fromMe: false, id: '3EB0HIST2', participant: DM },
		messageTimestamp: 1700000000,
		messageStubType: 27, // GROUP_PARTICIPANT_ADD
		messageStubParameters: ['15550000003@s.whatsapp.net', '15550000004@s.whatsapp.net'],
		participant: DM,
		status: 2,
	},
]

const historySync = {
	syncType: 3, // RECENT (Baileys' schema has no presence for this field, so 0 would vanish)
	conversations: [
		{
			id: GROUP,
			messages: [
				{ message: webMessages[0], msgOrderId: 2 },
				{ message: webMessages[1], msgOrderId: 1 },
			],
			unreadCount: 3,
			ephemeralExpiration: 86400,
			ephemeralSettingTimestamp: 1690000000,
			conversationTimestamp: 1700000100,
			name: 'Team',
			archived: false,
			pinned: 1700000000,
			muteEndTime: 0,
			markedAsUnread: true,
			participant: [{ userJid: DM, rank: 1 }, { userJid: OWN, rank: 2 }],
			endOfHistoryTransferType: 0,
			disappearingMode: { initiator: 1 },
		},
		{
			id: DM,
			messages: [
				{
					message: {
						key: { remoteJid: DM, fromMe: true, id: '3EB0DM1' },
						message: { conversation: 'hi' },
						messageTimestamp: 1700000300,
						status: 3,
					},
					msgOrderId: 1,
				},
			],
			lidJid: '123456789012345@lid',
			pnJid: DM,
			displayName: 'Bob',
		},
	],
	chunkOrder: 1,
	progress: 10,
	pushnames: [
		{ id: DM, pushname: 'Bob' },
		{ id: '15550000001@s.whatsapp.net', pushname: 'Carol' },
	],
	globalSettings: {
		disappearingModeDuration: 604800,
		disappearingModeTimestamp: 1690000000,
		mediaVisibility: 2,
		autoDownloadWiFi: { downloadImages: true, downloadAudio: true, downloadVideo: false, downloadDocuments: false },
	},
	phoneNumberToLidMappings: [{ pnJid: DM, lidJid: '123456789012345@lid' }],
}

const contactAction = {
	index: Buffer.from(JSON.stringify(['contact', DM])),
	value: {
		timestamp: 1764002000000,
		contactAction: { fullName: 'Bob Builder', firstName: 'Bob', lidJid: '123456789012345@lid', saveOnPrimaryAddressbook: true },
	},
	padding: fill(0x00, 4),
	version: 2,
}

const archiveAction = {
	index: Buffer.from(JSON.stringify(['archive', GROUP])),
	value: {
		timestamp: 1764002100000,
		archiveChatAction: {
			archived: true,
			messageRange: {
				lastMessageTimestamp: 1764002000,
				lastSystemMessageTimestamp: 1764001000,
				messages: [{ key: { remoteJid: GROUP, fromMe: false, id: '3EB0LAST', participant: DM }, timestamp: 1764002000 }],
			},
		},
	},
	version: 3,
}

const settingsActions = {
	index: Buffer.from(JSON.stringify(['mute', DM])),
	value: {
		timestamp: 1764002200000,
		muteAction: { muted: true, muteEndTimestamp: -1, autoMuted: false },
		pinAction: { pinned: true },
		starAction: { starred: false },
		pushNameSetting: { name: 'Me' },
		localeSetting: { locale: 'en_US' },
		markChatAsReadAction: { read: false, messageRange: { lastMessageTimestamp: 1764002000 } },
		deleteMessageForMeAction: { deleteMedia: true, messageTimestamp: 1764001900 },
		clearChatAction: { messageRange: { lastMessageTimestamp: 1764001800 } },
		deleteChatAction: { messageRange: { lastMessageTimestamp: 1764001700 } },
		unarchiveChatsSetting: { unarchiveChats: true },
		userStatusMuteAction: { muted: true },
		timeFormatAction: { isTwentyFourHourFormatEnabled: true },
		primaryVersionAction: { version: '2.26.1.1' },
		pnForLidChatAction: { pnJid: DM },
		lockChatAction: { locked: true },
		lidContactAction: { fullName: 'Lid Contact', firstName: 'Lid', username: 'lidder' },
		keyExpiration: { expiredKeyEpoch: 7 },
		labelEditAction: { name: 'Work', color: 3, predefinedId: 1, deleted: false, orderIndex: 2, isActive: true, type: 5 },
		labelAssociationAction: { labeled: true },
	},
}

const keyIdBytes = Buffer.from([0, 0, 0, 0, 0x5a, 0x01])
const syncdPatch = {
	version: { version: 42 },
	mutations: [
		{
			operation: 0, // SET
			record: { index: { blob: fill(0x61, 32) }, value: { blob: fill(0x62, 96) }, keyId: { id: keyIdBytes } },
		},
		{
			operation: 1, // REMOVE
			record: { index: { blob: fill(0x63, 32) }, value: { blob: fill(0x64, 80) }, keyId: { id: keyIdBytes } },
		},
	],
	snapshotMac: fill(0x65, 32),
	patchMac: fill(0x66, 32),
	keyId: { id: keyIdBytes },
	deviceIndex: 5,
}

const syncdPatchExternal = {
	version: { version: 43 },
	externalMutations: {
		mediaKey: fill(0x67, 32),
		directPath: '/v/t62.1234-24/55555_66666_n.enc?ccb=11-4',
		handle: 'handle-1',
		fileSizeBytes: 70000,
		fileSha256: fill(0x68, 32),
		fileEncSha256: fill(0x69, 32),
	},
	snapshotMac: fill(0x6a, 32),
	patchMac: fill(0x6b, 32),
	keyId: { id: keyIdBytes },
	exitCode: { code: 0, text: 'ok' },
}

const syncdSnapshot = {
	version: { version: 41 },
	records: [{ index: { blob: fill(0x6c, 32) }, value: { blob: fill(0x6d, 64) }, keyId: { id: keyIdBytes } }],
	mac: fill(0x6e, 32),
	keyId: { id: keyIdBytes },
}

const handshake = {
	serverHello: { ephemeral: fill(0x01, 32), static: fill(0x02, 48), payload: fill(0x03, 300) },
}

const samples = [
	['device_props', 'DeviceProps', deviceProps],
	['client_payload_registration', 'ClientPayload', registrationPayload],
	['client_payload_login', 'ClientPayload', loginPayload],
	['adv_device_identity', 'ADVDeviceIdentity', deviceIdentity],
	['adv_signed_device_identity', 'ADVSignedDeviceIdentity', signedDeviceIdentity],
	['adv_signed_device_identity_hmac', 'ADVSignedDeviceIdentityHMAC', signedDeviceIdentityHMAC],
	['adv_key_index_list', 'ADVKeyIndexList', keyIndexList],
	['adv_signed_key_index_list', 'ADVSignedKeyIndexList', signedKeyIndexList],
	['handshake_server_hello', 'HandshakeMessage', handshake],
	['msg_conversation', 'Message', { conversation: 'Hello, world! 👋' }],
	['msg_image', 'Message', imageMessage],
	['msg_quoted_reply', 'Message', quotedReply],
	['msg_link_preview', 'Message', linkPreview],
	['msg_reaction', 'Message', reaction],
	['msg_history_notification', 'Message', historyNotification],
	['msg_key_share', 'Message', keyShare],
	['msg_key_request', 'Message', keyRequest],
	['msg_on_demand_request', 'Message', onDemandRequest],
	['msg_edit', 'Message', edit],
	['msg_edit_wrapper', 'Message', editWrapper],
	['msg_revoke', 'Message', revoke],
	['msg_ephemeral_setting', 'Message', ephemeralSetting],
	['msg_poll_v3', 'Message', poll],
	['msg_poll_v1', 'Message', pollV1],
	['msg_poll_v2', 'Message', pollV2],
	['msg_poll_vote', 'Message', pollVote],
	['msg_device_sent', 'Message', deviceSent],
	['msg_sender_key', 'Message', senderKey],
	['msg_video', 'Message', mediaKinds],
	['msg_audio', 'Message', audio],
	['msg_document_with_caption', 'Message', documentWithCaption],
	['msg_sticker', 'Message', sticker],
	['msg_location', 'Message', location],
	['msg_live_location', 'Message', liveLocation],
	['msg_contact', 'Message', contact],
	['msg_contacts_array', 'Message', contacts],
	['msg_ephemeral_view_once', 'Message', ephemeralViewOnce],
	['history_sync', 'HistorySync', historySync],
	['web_message_info', 'WebMessageInfo', webMessages[0]],
	['sync_action_contact', 'SyncActionData', contactAction],
	['sync_action_archive', 'SyncActionData', archiveAction],
	['sync_action_settings', 'SyncActionData', settingsActions],
	['syncd_patch', 'SyncdPatch', syncdPatch],
	['syncd_patch_external', 'SyncdPatch', syncdPatchExternal],
	['syncd_mutations', 'SyncdMutations', { mutations: syncdPatch.mutations }],
	['syncd_snapshot', 'SyncdSnapshot', syncdSnapshot],
]

// Field-name-independent view of a message, for comparing two decodings.
const canonical = (type, bytes) => {
	const obj = proto[type].toObject(proto[type].decode(bytes), {
		longs: String,
		enums: Number,
		bytes: String,
		defaults: false,
	})
	const sort = v =>
		Array.isArray(v)
			? v.map(sort)
			: v && typeof v === 'object'
				? Object.fromEntries(Object.keys(v).sort().map(k => [k, sort(v[k])]))
				: v
	return JSON.stringify(sort(obj))
}

const byName = new Map()
const out = []
for (const [name, type, obj] of samples) {
	const bytes = encode(type, obj)
	byName.set(name, { type, bytes })
	out.push({ name, type, hex: bytes.toString('hex') })
}
process.stdout.write(JSON.stringify({ samples: out }) + '\n')

const rl = createInterface({ input: process.stdin })
for await (const line of rl) {
	if (!line.trim()) continue
	const { results } = JSON.parse(line)
	const checks = results.map(({ name, hex }) => {
		const sample = byName.get(name)
		if (!sample) return { name, ok: false, error: 'unknown sample' }
		try {
			const baileys = canonical(sample.type, sample.bytes)
			const ours = canonical(sample.type, Buffer.from(hex, 'hex'))
			return { name, ok: baileys === ours, baileys, ours }
		} catch (err) {
			return { name, ok: false, error: String(err) }
		}
	})
	process.stdout.write(JSON.stringify({ checks }) + '\n')
	break
}
rl.close()
