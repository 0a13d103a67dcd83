// Wire types of docs/protocol.md, for JSDoc type checking only (this module exports nothing
// at run time).

/**
 * @typedef {{id: number, name: string, username?: string, bio?: string, phone?: string,
 *   contact: boolean, blocked: boolean, bot?: boolean}} User
 * @typedef {'creator' | 'admin' | 'member'} Role
 * @typedef {{id: number, kind: 'private' | 'group' | 'channel', title: string, username?: string,
 *   peer?: User, member_count: number, role?: Role, pinned_message_id?: number,
 *   chat_pts?: number, top_message_id: number}} Chat
 * @typedef {'photo' | 'video' | 'audio' | 'voice' | 'document'} MediaKind
 * @typedef {{kind: MediaKind, file_id: number, name: string, mime: string, size: number,
 *   width?: number, height?: number, thumb_file_id?: number, caption?: string}} Media
 * @typedef {{type: 'text', text: string} | ({type: 'media'} & Media)
 *   | {type: string, text?: string}} Content
 * @typedef {{id: number, name: string, mime: string, size: number, sha256: string,
 *   width?: number, height?: number, thumb_file_id?: number}} UploadedFile
 * @typedef {{from_user: number, from_chat: number, message_id: number, date: number}} ForwardInfo
 * @typedef {{type: string, offset: number, length: number, url?: string, user_id?: number,
 *   language?: string, custom_emoji_id?: string}} MessageEntity
 * @typedef {{text: string, callback_data?: string, url?: string}} InlineButton
 * @typedef {{inline_keyboard: InlineButton[][]}} ReplyMarkup
 * @typedef {{text?: string, alert: boolean, url?: string}} CallbackAnswer
 * @typedef {{id: number, chat_id: number, from: number, date: number, content: Content,
 *   entities?: MessageEntity[], reply_markup?: ReplyMarkup,
 *   reply_to?: number, forward?: ForwardInfo, edit_date?: number,
 *   reactions?: MessageReactions}} Message
 * @typedef {{type: 'emoji', emoji: string} | {type: 'custom_emoji', custom_emoji_id: string}} ReactionType
 * @typedef {{results: {reaction: ReactionType, count: number, chosen?: boolean}[],
 *   recent?: {user_id: number, reaction: ReactionType}[]}} MessageReactions
 * @typedef {{text: string, reply_to?: number, date: number}} DraftMessage
 * @typedef {{message: Message, snippet: string, highlights: [number, number][]}} SearchResult
 * @typedef {{results: SearchResult[], chats: Chat[], users: User[], next_offset?: number}} SearchResults
 * @typedef {{users: User[], chats: Chat[]}} Directory
 * @typedef {{chat: Chat, last_message?: Message, unread_count: number,
 *   read_inbox_max_id: number, read_outbox_max_id: number, draft?: DraftMessage}} Dialog
 * @typedef {{activity: number, chat_id: number}} DialogCursor
 * @typedef {{dialogs: Dialog[], next?: DialogCursor}} Dialogs
 * @typedef {{token: string, session_id: number, user: User, new_account: boolean}} Authorization
 * @typedef {{message: Message, pts: number}} Sent
 * @typedef {{pts: number, date: number}} State
 * @typedef {{id: number, device: string, created: number, last_active: number, current: boolean}} Session
 * @typedef {{type: 'user', user: User} | {type: 'chat', chat: Chat}} Peer
 * @typedef {{user: User, role: Role, joined: number}} Member
 *
 * @typedef {{log?: number, pts: number, pts_count: number, date: number}} UpdateHead
 * @typedef {UpdateHead & ({type: 'new_message' | 'edit_message', message: Message}
 *   | {type: 'delete_messages', chat_id: number, ids: number[]}
 *   | {type: 'read_inbox' | 'read_outbox', chat_id: number, max_id: number}
 *   | {type: 'pinned_message', chat_id: number, id?: number}
 *   | {type: 'participant', chat_id: number, user_id: number, role?: Role, by: number}
 *   | {type: 'message_reactions', chat_id: number, id: number, reactions: MessageReactions}
 *   | {type: 'draft', chat_id: number, draft?: DraftMessage}
 *   | {type: 'chat', chat: Chat})} Update
 * @typedef {{type: 'empty' | 'too_long', pts: number}
 *   | {type: 'complete' | 'slice', pts: number, updates: Update[]}} Difference
 *
 * @typedef {{code: string, message: string, retry_after?: number}} WireError
 * @typedef {{type: 'result', id: number, result: unknown}
 *   | {type: 'error', id?: number, error: WireError}
 *   | {type: 'update', update: Update}
 *   | {type: 'typing', chat_id: number, user_id: number}
 *   | {type: 'resync', reason: string}} ServerFrame
 */

export {};
