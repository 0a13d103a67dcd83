//! `helio`: the Heliograph terminal client, built on the `heliograph-client` SDK.
//!
//! - `main.rs`: the command line (clap) and one function per command.
//! - [`profile`]: the profile folder and its `session.json`.
//! - [`output`]: `--json` objects and plain lines.
//! - [`error`]: `error: CODE: message` and exit codes.
//! - [`tui`]: `helio tui`, the full-screen chat.
//! - [`transfer`]: `helio upload` and `helio download`.

mod error;
mod output;
mod profile;
// secret chats (#15)
mod secret;
mod transfer;
mod tui;

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use heliograph_client::proto::method::Direction;
use heliograph_client::proto::{ErrorCode, Peer};
use heliograph_client::{Client, Config, Event, SyncState, Updates};
use serde_json::Value;

use crate::error::CliError;
use crate::profile::Session;

const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The longest a command waits out FLOOD_WAIT refusals in all (`--no-wait`: not at all).
const FLOOD_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

const JSON_HELP: &str = "\
JSON OUTPUT (--json): one object per line; absent optional fields are omitted.
  message   (history, send --json, watch new_message/edit_message):
            id, chat, from (user id), text, date (unix seconds), reply_to?, edit_date?, forward_from?,
            entities?, reply_markup? (a bot's formatting and buttons, as the server sent them),
            reactions? ({results: [{reaction, count, chosen?}], recent?: [{user_id, reaction}]})
  dialog    (chats): chat, kind (private|group|channel), title, username?, peer? (the other user
            of a private chat), members, role?, pinned?, unread, last_id?, last_from?, last_text?, last_date?,
            draft? (your unsent text)
  user      (me, contacts, profile set, username set, bot list): id, name, username?, bio?, phone?,
            contact, blocked, bot
  session   (sessions): id, device, created, last_active, current
  update    (watch): type, plus by type:
            new_message, edit_message: the message fields
            delete_messages: chat, ids, date
            read_inbox, read_outbox: chat, max_id, date
            pinned_message: chat, id (null = unpinned), date
            participant: chat, user, role (null = left/removed), by, date
            chat: the dialog's chat fields (chat, kind, title, ...), date
            typing: chat, from
            message_reactions: chat, id, reactions (as in a message), date
            draft: chat, text (null = cleared), reply_to?, date
            too_long: log (null = your own log, else a chat id): reload, something was skipped
ERRORS: one line `error: CODE: message` on stderr, exit code 1 (2 for usage errors).
  CODE is the server's error code (CHAT_NOT_FOUND, USER_NOT_FOUND, PHONE_CODE_INVALID, ...) or
  UNREACHABLE, TIMEOUT, DISCONNECTED, NOT_LOGGED_IN, BAD_ARGUMENT, PROFILE_IO.
See docs/cli.md for details.";

/// The Heliograph terminal client.
#[derive(Debug, Parser)]
#[command(name = "helio", version, about, after_long_help = JSON_HELP)]
struct Cli {
    /// Server URL, or several nodes of one cluster separated by commas, tried in order
    /// (default: the profile's server, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "HELIO_SERVER", value_name = "URL[,URL...]")]
    server: Option<String>,
    /// Profile folder holding session.json (default: $HOME/.config/helio).
    #[arg(long, global = true, env = "HELIO_PROFILE", value_name = "DIR")]
    profile: Option<PathBuf>,
    /// Fail at once on FLOOD_WAIT instead of waiting it out and retrying (the default; a
    /// retried send carries the same random_id, so it is never duplicated).
    #[arg(long, global = true)]
    no_wait: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in with a phone number (asks for the code when --code is absent).
    Login {
        phone: String,
        #[arg(long)]
        code: Option<String>,
        /// Your name, needed on a phone's first sign-in (asked for when absent).
        #[arg(long)]
        name: Option<String>,
    },
    /// End this session and forget it.
    Logout,
    /// List your signed-in devices, or revoke one.
    Sessions {
        #[command(subcommand)]
        action: Option<SessionsAction>,
        #[arg(long)]
        json: bool,
    },
    /// Show yourself.
    Me {
        #[arg(long)]
        json: bool,
    },
    /// Change your profile.
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Set or clear your @username.
    Username {
        #[command(subcommand)]
        action: UsernameAction,
    },
    /// Who may find you: `privacy phone everybody|contacts|nobody`.
    Privacy {
        #[command(subcommand)]
        action: PrivacyAction,
    },
    /// Report a message you received to this server's operators (account, #16).
    Report {
        /// @username, @channel or a chat id.
        chat: String,
        /// The message's id in the chat.
        message_id: i64,
        /// spam, violence, child_abuse, illegal_goods or other.
        #[arg(long, default_value = "spam")]
        reason: String,
        /// What the operators should know.
        #[arg(long)]
        comment: Option<String>,
        /// Other messages of the chat to share as context (ids; repeatable).
        #[arg(long = "context", value_name = "ID")]
        context: Vec<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Operators only (`[accountability] operators`): review reports and act on them.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Secret chats, end-to-end encrypted (MLS) on this device: `init`, `create @user`,
    /// `send CHAT TEXT`, `read CHAT`.
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Send a message; prints its id once the server stored it durably.
    Send {
        /// @username, @channel or a chat id.
        chat: String,
        /// The text; `-` reads it from stdin.
        text: String,
        #[arg(long, value_name = "ID")]
        reply_to: Option<i64>,
        /// Print the stored message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Upload a file and send it; prints the message id. Run it again to resume an
    /// interrupted upload. Shows a progress bar on a terminal.
    Upload {
        /// @username, @channel or a chat id.
        chat: String,
        file: PathBuf,
        #[arg(long)]
        caption: Option<String>,
        /// Print {id, chat, file_id, size, sha256} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download the file of a message; prints where it went.
    Download {
        chat: String,
        message_id: i64,
        /// Where to write it (default: the file's name in the current folder).
        #[arg(short = 'o', long = "output", value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Messages of a chat, oldest to newest.
    History {
        chat: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Only messages older than this id.
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Your dialog list with unread counts, most recent first.
    Chats {
        #[arg(long)]
        json: bool,
    },
    /// List your contacts, or add one.
    Contacts {
        #[command(subcommand)]
        action: Option<ContactsAction>,
        #[arg(long)]
        json: bool,
    },
    /// Block a user.
    Block { user: String },
    /// Unblock a user.
    Unblock { user: String },
    /// Edit one of your messages.
    Edit { chat: String, id: i64, text: String },
    /// Delete a message (for you, or for everyone).
    Delete {
        chat: String,
        id: i64,
        #[arg(long)]
        for_everyone: bool,
    },
    /// Pin a message (or unpin with --unpin).
    Pin {
        chat: String,
        #[arg(required_unless_present = "unpin")]
        id: Option<i64>,
        #[arg(long)]
        unpin: bool,
    },
    /// Search the messages you can read, best first: words (all must match), "a phrase", the
    /// last word also as a prefix. Prints `chat<TAB>id<TAB>from<TAB>snippet` per message, the
    /// matches in [brackets]; `--json` prints each result as the server sent it.
    Search {
        query: String,
        /// Only this chat (@username or a chat id).
        #[arg(long)]
        chat: Option<String>,
        /// Only messages from this user (@username or a user id).
        #[arg(long)]
        from: Option<String>,
        /// text, photo, video, audio, voice, file or link.
        #[arg(long)]
        kind: Option<String>,
        /// Only messages from this date on (YYYY-MM-DD, UTC) ...
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// ... and up to this date, inclusive.
        #[arg(long, value_name = "DATE")]
        until: Option<String>,
        /// How many results (1-1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Set your reactions on a message: emoji (or custom:ID), at most 3; none takes yours away.
    /// Prints the message's reactions as they stand (`👍 2  🔥 1*`, `*` marks yours).
    React {
        chat: String,
        id: i64,
        reactions: Vec<String>,
        /// Print the reactions as the server sent them.
        #[arg(long)]
        json: bool,
    },
    /// Keep a draft in a chat (your other devices and `helio chats` show it), or clear it.
    Draft {
        chat: String,
        #[arg(required_unless_present = "clear")]
        text: Option<String>,
        #[arg(long, value_name = "ID")]
        reply_to: Option<i64>,
        #[arg(long)]
        clear: bool,
    },
    /// Mark a chat read up to its newest message.
    Read { chat: String },
    /// Groups: create, add/remove members, invite links.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// Join a group by invite link or a public channel by @name.
    Join { target: String },
    /// Leave a group or channel.
    Leave { chat: String },
    /// Channels: create, post.
    Channel {
        #[command(subcommand)]
        action: ChannelAction,
    },
    /// Print incoming updates as they arrive until interrupted; resumes where it stopped.
    Watch {
        #[arg(long)]
        json: bool,
    },
    /// Bots you own: create, list, new tokens.
    Bot {
        #[command(subcommand)]
        action: BotAction,
    },
    /// Press a button under a bot's message; prints the bot's answer.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["data", "button", "text"])))]
    Press {
        chat: String,
        message_id: i64,
        /// The button's callback data.
        data: Option<String>,
        /// The Nth button, counted from 1 row by row (as `history` shows them).
        #[arg(long, value_name = "N")]
        button: Option<usize>,
        /// The button labelled LABEL.
        #[arg(long, value_name = "LABEL")]
        text: Option<String>,
        /// Print the answer as {text?, alert, url?}.
        #[arg(long)]
        json: bool,
    },
    /// The reply keyboard a bot shows you in CHAT; with LABEL (or --button N), press one of
    /// its buttons: its text is sent as your message (prints its id).
    Keyboard {
        chat: String,
        /// The button labelled LABEL.
        label: Option<String>,
        /// The Nth button, counted from 1 row by row.
        #[arg(long, value_name = "N", conflicts_with = "label")]
        button: Option<usize>,
        /// Print the keyboard's message as JSON (or the sent message, when pressing).
        #[arg(long)]
        json: bool,
    },
    /// A full-screen chat: dialogs, history, live updates (press F1 inside for the keys).
    Tui,
}

#[derive(Debug, Subcommand)]
enum BotAction {
    /// Create a bot; prints its details, then its token alone on the last line.
    Create {
        /// The bot's display name.
        name: String,
        /// Its @username; must end in `bot`.
        #[arg(long)]
        username: String,
    },
    /// The bots you own.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The bot's token.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Give the bot (@username or id) a new token; the old one stops working. Prints the new
    /// token on the last line.
    Revoke { bot: String },
}

#[derive(Debug, Subcommand)]
enum SecretAction {
    /// Make this profile's MLS device and upload its key packages (others can then add it).
    Init,
    /// Start a secret chat with USER (every device of theirs and yours); prints its id.
    Create {
        user: String,
        #[arg(long)]
        title: Option<String>,
    },
    /// Encrypt TEXT on this device and send it to secret chat CHAT.
    Send { chat: i64, text: String },
    /// Decrypt and print the new messages of secret chat CHAT (`from_id<TAB>text`).
    Read {
        chat: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// End one of your sessions by id.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
enum ProfileAction {
    /// Set your name and/or bio (an empty bio clears it).
    Set {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        bio: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UsernameAction {
    /// Set your @username.
    Set {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove your @username.
    Clear,
}

#[derive(Debug, Subcommand)]
enum PrivacyAction {
    /// Who may find you by your phone number; without a value, prints the current setting.
    Phone { who: Option<PhoneWho> },
}

/// `helio privacy phone` values, as the protocol names them.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PhoneWho {
    Everybody,
    Contacts,
    Nobody,
}

#[derive(Debug, Subcommand)]
enum ContactsAction {
    /// Add a contact by phone number or @username.
    Add {
        who: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum GroupAction {
    /// Create a group with these members; prints its chat id.
    Create { title: String, members: Vec<String> },
    /// Add a member (admins).
    Add { chat: String, user: String },
    /// Remove a member (admins).
    Remove { chat: String, user: String },
    /// Print an invite link (admins).
    InviteLink { chat: String },
    /// Make a member an admin (the group's creator).
    Promote { chat: String, user: String },
    /// Make an admin a member again (the group's creator).
    Demote { chat: String, user: String },
    /// Limit what a member who is not an admin may send (admins): only the kinds given with
    /// --allow (none: read-only), for --hours or for ever; --lift ends the restriction.
    Restrict {
        chat: String,
        user: String,
        /// Kinds still allowed, comma-separated: text, photos, videos, audios, documents, voice.
        #[arg(long, value_delimiter = ',', value_name = "KINDS")]
        allow: Vec<String>,
        /// Ends after this many hours [default: never].
        #[arg(long, value_name = "N")]
        hours: Option<u32>,
        /// Lift the restriction (everything allowed again).
        #[arg(long, conflicts_with_all = ["allow", "hours"])]
        lift: bool,
    },
    /// Remove a person and keep them out (admins), for --hours or for ever; --lift lets them
    /// back (they may join again).
    Ban {
        chat: String,
        user: String,
        #[arg(long, value_name = "N")]
        hours: Option<u32>,
        #[arg(long, conflicts_with = "hours")]
        lift: bool,
    },
    /// List the members with their roles (`--json`: user fields plus role and joined).
    Members {
        chat: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ChannelAction {
    /// Create a channel (public with --public NAME); prints its chat id.
    Create {
        title: String,
        #[arg(long, value_name = "NAME")]
        public: Option<String>,
    },
    /// Post to a channel (admins); prints the message id.
    Post { chat: String, text: String },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What every command has: where the profile is and which server to use.
struct Ctx {
    profile: PathBuf,
    server_flag: Option<String>,
    /// `--no-wait`: FLOOD_WAIT fails the command instead of being waited out.
    no_wait: bool,
}

impl Ctx {
    fn server(&self, session: Option<&Session>) -> String {
        self.server_flag.clone().or_else(|| session.map(|s| s.server.clone())).unwrap_or_else(|| DEFAULT_SERVER.to_owned())
    }

    /// Connects with the stored session. The update stream is returned for `watch`; other
    /// commands let [`drain`] read it so the client never stalls on a full buffer.
    async fn connect(&self) -> Result<(Client, Updates, Session), CliError> {
        let Some(mut session) = profile::load(&self.profile)? else {
            return Err(CliError::new("NOT_LOGGED_IN", format!("no session in {}: run `helio login PHONE` first", self.profile.display())));
        };
        let url = self.server(Some(&session));
        let mut config = client_config(&url);
        if !self.no_wait {
            config.flood_wait = FLOOD_WAIT;
            config.on_flood_wait = Some(std::sync::Arc::new(|secs| eprintln!("FLOOD_WAIT: waiting {secs} s, then retrying")));
        }
        config.token = Some(session.token.clone());
        config.state = session.state.clone();
        let (client, updates) = connect(config, &url).await?;
        session.server = url;
        Ok((client, updates, session))
    }

    async fn client(&self) -> Result<Client, CliError> {
        let (client, updates, _) = self.connect().await?;
        tokio::spawn(drain(updates));
        Ok(client)
    }
}

/// The SDK config for a `--server` value: every comma-separated URL, in order, so the client
/// moves to the next node of a cluster when one is down.
fn client_config(servers: &str) -> Config {
    let mut config = Config::new(DEFAULT_SERVER);
    config.urls = server_urls(servers);
    config
}

/// `URL1,URL2,...` as a list (blank entries dropped); at least the default server.
fn server_urls(servers: &str) -> Vec<String> {
    let urls: Vec<String> = servers.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect();
    if urls.is_empty() {
        vec![DEFAULT_SERVER.to_owned()]
    } else {
        urls
    }
}

/// The `/files` client of a session: its first server URL and its token.
fn files_client(session: &Session) -> Result<heliograph_client::files::Files, CliError> {
    let url = server_urls(&session.server).remove(0);
    Ok(heliograph_client::files::Files::new(&url, &session.token)?)
}

async fn connect(config: Config, url: &str) -> Result<(Client, Updates), CliError> {
    Client::connect(config).await.map_err(|e| {
        let e = CliError::from(e);
        CliError::new(&e.code, format!("cannot reach the server at {url}: {}", e.message))
    })
}

/// Reads and discards events (one-shot commands do not show updates).
async fn drain(mut updates: Updates) {
    while updates.recv().await.is_some() {}
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx { profile: profile::dir(cli.profile.as_deref())?, server_flag: cli.server, no_wait: cli.no_wait };
    match cli.command {
        Command::Login { phone, code, name } => login(&ctx, &phone, code, name).await,
        Command::Logout => {
            let (client, updates, _) = ctx.connect().await?;
            tokio::spawn(drain(updates));
            match client.log_out().await {
                Ok(()) => {}
                // Already ended elsewhere: forgetting it locally is all that is left.
                Err(e) if matches!(e.code(), Some(ErrorCode::AuthRequired | ErrorCode::SessionRevoked)) => {}
                Err(e) => return Err(e.into()),
            }
            profile::remove(&ctx.profile)?;
            println!("logged out");
            Ok(())
        }
        Command::Sessions { action: None, json } => {
            let client = ctx.client().await?;
            for s in client.sessions().await? {
                if json {
                    output::line(&output::session(&s));
                } else {
                    let current = if s.current { " (this one)" } else { "" };
                    println!("{}\t{}\tlast active {}{current}", s.id, s.device, output::date(s.last_active));
                }
            }
            Ok(())
        }
        Command::Sessions { action: Some(SessionsAction::Revoke { id }), .. } => {
            ctx.client().await?.revoke_session(id).await?;
            println!("revoked session {id}");
            Ok(())
        }
        Command::Me { json } => {
            let (client, updates, session) = ctx.connect().await?;
            tokio::spawn(drain(updates));
            let mut me = client.get_me().await?;
            // The server keeps no readable number (docs/accountability.md): yours is the one
            // you signed in with, kept in the profile.
            me.phone = me.phone.or(Some(session.phone.clone()).filter(|p| !p.is_empty()));
            print_user(&me, json);
            Ok(())
        }
        Command::Report { chat, message_id, reason, comment, context, json } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let report = client.report_message(chat_id, message_id, &reason, comment.as_deref(), &context).await?;
            if json {
                output::line(&output::report(&report));
            } else {
                println!("reported message {} of chat {chat_id} (report {})", report.message.id, report.id);
            }
            Ok(())
        }
        Command::Admin { action } => admin(&ctx, action).await,
        Command::Profile { action: ProfileAction::Set { name, bio, json } } => {
            if name.is_none() && bio.is_none() {
                return Err(CliError::new("BAD_ARGUMENT", "nothing to change: pass --name and/or --bio"));
            }
            let me = ctx.client().await?.update_profile(name.as_deref(), bio.as_deref()).await?;
            print_user(&me, json);
            Ok(())
        }
        Command::Username { action } => {
            let (name, json) = match &action {
                UsernameAction::Set { name, json } => (Some(name.trim_start_matches('@')), *json),
                UsernameAction::Clear => (None, false),
            };
            let me = ctx.client().await?.set_username(name).await?;
            print_user(&me, json);
            Ok(())
        }
        Command::Privacy { action: PrivacyAction::Phone { who } } => {
            use heliograph_client::proto::PhonePrivacy as P;
            let client = ctx.client().await?;
            let privacy = match who {
                Some(who) => {
                    let phone = match who {
                        PhoneWho::Everybody => P::Everybody,
                        PhoneWho::Contacts => P::Contacts,
                        PhoneWho::Nobody => P::Nobody,
                    };
                    client.set_privacy(phone).await?
                }
                None => client.privacy().await?,
            };
            let name = match privacy.find_by_phone {
                P::Everybody => "everybody",
                P::Contacts => "contacts",
                P::Nobody => "nobody",
            };
            println!("find_by_phone: {name}");
            Ok(())
        }
        Command::Secret { action } => {
            let (client, updates, session) = ctx.connect().await?;
            tokio::spawn(drain(updates));
            let mut secret = secret::Secret::open(&client, &ctx.profile, &session).await?;
            match action {
                SecretAction::Init => println!("device {} ready", session.session_id),
                SecretAction::Create { user, title } => {
                    let peer = resolve_user(&client, &user).await?;
                    println!("{}", secret.create(peer, title).await?);
                }
                SecretAction::Send { chat, text } => println!("{}", secret.send(chat, &text).await?.id),
                SecretAction::Read { chat, json } => {
                    for (from, text) in secret.sync(chat).await? {
                        if json {
                            println!("{}", serde_json::json!({"from": from, "text": text}));
                        } else {
                            println!("{from}\t{text}");
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Send { chat, text, reply_to, json } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            send(&client, chat_id, &text, reply_to, json).await
        }
        Command::Upload { chat, file, caption, json } => {
            let (client, updates, session) = ctx.connect().await?;
            tokio::spawn(drain(updates));
            let files = files_client(&session)?;
            let chat_id = resolve_chat(&client, &chat).await?;
            transfer::upload(&client, &files, &ctx.profile, chat_id, &file, caption.as_deref(), json).await
        }
        Command::Download { chat, message_id, output } => {
            let (client, updates, session) = ctx.connect().await?;
            tokio::spawn(drain(updates));
            let files = files_client(&session)?;
            let chat_id = resolve_chat(&client, &chat).await?;
            transfer::download(&client, &files, chat_id, message_id, output).await
        }
        Command::History { chat, limit, before, json } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let messages = client.history(chat_id, before, Direction::Older, Some(limit)).await?;
            let names = if json { HashMap::new() } else { names(&client, messages.iter().map(|m| m.from)).await? };
            for m in &messages {
                if json {
                    output::line(&Value::Object(output::message(m)));
                } else {
                    println!("{}", output::message_text(m, &name_of(&names, m.from)));
                }
            }
            Ok(())
        }
        Command::Chats { json } => {
            let client = ctx.client().await?;
            let mut offset = None;
            loop {
                let page = client.get_dialogs(Some(100), offset).await?;
                for d in &page.dialogs {
                    if json {
                        output::line(&output::dialog(d));
                    } else {
                        let name = d.chat.username.as_ref().map(|u| format!(" @{u}")).unwrap_or_default();
                        let last = match &d.draft {
                            Some(draft) => format!("draft: {}", draft.text),
                            None => d.last_message.as_ref().and_then(|m| m.content.text()).unwrap_or("").to_owned(),
                        };
                        println!("{}\t{}\t{}{name}\tunread {}\t{last}", d.chat.id, output::kind(d.chat.kind), d.chat.title, d.unread_count);
                    }
                }
                match page.next {
                    Some(next) if !page.dialogs.is_empty() => offset = Some(next),
                    _ => break,
                }
            }
            Ok(())
        }
        Command::Contacts { action: None, json } => {
            for u in ctx.client().await?.get_contacts().await? {
                print_user(&u, json);
            }
            Ok(())
        }
        Command::Contacts { action: Some(ContactsAction::Add { who, json }), .. } => {
            let client = ctx.client().await?;
            let user = match who.strip_prefix('@') {
                Some(name) => client.add_contact_by_username(name).await?,
                None => client.add_contact_by_phone(&who).await?,
            };
            print_user(&user, json);
            Ok(())
        }
        Command::Block { user } => {
            let client = ctx.client().await?;
            client.block(resolve_user(&client, &user).await?).await?;
            println!("blocked {user}");
            Ok(())
        }
        Command::Unblock { user } => {
            let client = ctx.client().await?;
            client.unblock(resolve_user(&client, &user).await?).await?;
            println!("unblocked {user}");
            Ok(())
        }
        Command::Edit { chat, id, text } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let text = read_text(&text)?;
            let m = client.edit_message(chat_id, id, &text).await?;
            println!("{}", m.id);
            Ok(())
        }
        Command::Delete { chat, id, for_everyone } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            if for_everyone {
                client.delete_messages_for_everyone(chat_id, &[id]).await?;
            } else {
                client.delete_messages_for_me(chat_id, &[id]).await?;
            }
            println!("deleted {id}");
            Ok(())
        }
        Command::Pin { chat, id, unpin } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let id = if unpin { None } else { id };
            client.pin_message(chat_id, id).await?;
            match id {
                Some(id) => println!("pinned {id}"),
                None => println!("unpinned"),
            }
            Ok(())
        }
        Command::Search { query, chat, from, kind, since, until, limit, json } => {
            let client = ctx.client().await?;
            let filter = heliograph_client::SearchFilter {
                chat_id: match &chat {
                    Some(c) => Some(resolve_chat(&client, c).await?),
                    None => None,
                },
                from_id: match &from {
                    Some(u) => Some(resolve_user(&client, u).await?),
                    None => None,
                },
                kind,
                min_date: since.as_deref().map(|d| day_start(d)).transpose()?,
                max_date: until.as_deref().map(|d| day_start(d).map(|t| t + 86_399)).transpose()?,
            };
            let (mut offset, mut left) = (0, limit.clamp(1, 1000));
            while left > 0 {
                let page = client.search_messages(&query, &filter, offset, Some(left.min(100))).await?;
                let authors: HashMap<i64, String> = page.users.iter().map(|u| (u.id, u.name.clone())).collect();
                for r in page.results.iter().take(left as usize) {
                    if json {
                        output::line(&serde_json::to_value(r).unwrap_or_default());
                    } else {
                        let m = &r.message;
                        println!(
                            "{}\t{}\t{}\t{}",
                            m.chat_id,
                            m.id,
                            name_of(&authors, m.from),
                            output::highlighted(&r.snippet, &r.highlights)
                        );
                    }
                }
                left = left.saturating_sub(page.results.len() as u32);
                match page.next_offset {
                    Some(next) if !page.results.is_empty() => offset = next,
                    _ => break,
                }
            }
            Ok(())
        }
        Command::React { chat, id, reactions, json } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let wanted: Vec<_> = reactions.iter().map(|r| output::reaction_arg(r)).collect();
            let now = client.react(chat_id, id, &wanted).await?;
            if json {
                output::line(&serde_json::to_value(&now).unwrap_or_default());
            } else {
                println!("{}", output::reactions_text(&now));
            }
            Ok(())
        }
        Command::Draft { chat, text, reply_to, clear } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let text = match text.filter(|_| !clear) {
                Some(t) => Some(read_text(&t)?),
                None => None,
            };
            client.save_draft(chat_id, text.as_deref(), reply_to).await?;
            println!("{}", if text.is_some() { "draft saved" } else { "draft cleared" });
            Ok(())
        }
        Command::Read { chat } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            client.read_history(chat_id, None).await?;
            Ok(())
        }
        Command::Group { action } => group(&ctx, action).await,
        Command::Join { target } => {
            let client = ctx.client().await?;
            let chat = match target.strip_prefix('@') {
                Some(name) => client.join_by_username(name).await?,
                None => client.join_by_invite(&target).await?,
            };
            println!("{}", chat.id);
            Ok(())
        }
        Command::Leave { chat } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            client.leave(chat_id).await?;
            println!("left {chat_id}");
            Ok(())
        }
        Command::Channel { action: ChannelAction::Create { title, public } } => {
            let client = ctx.client().await?;
            let chat = client.create_channel(&title, public.as_deref().map(|p| p.trim_start_matches('@'))).await?;
            println!("{}", chat.id);
            Ok(())
        }
        Command::Channel { action: ChannelAction::Post { chat, text } } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            send(&client, chat_id, &text, None, false).await
        }
        Command::Watch { json } => watch(&ctx, json).await,
        Command::Bot { action } => bot(&ctx, action).await,
        Command::Press { chat, message_id, data, button, text, json } => {
            let client = ctx.client().await?;
            let chat_id = resolve_chat(&client, &chat).await?;
            let which = match (data, button, text) {
                (Some(data), _, _) => output::Which::Data(data),
                (_, Some(n), _) => output::Which::Index(n),
                (_, _, Some(label)) => output::Which::Label(label),
                _ => return Err(CliError::new("BAD_ARGUMENT", "name the button: DATA, --button N or --text LABEL")),
            };
            let data = match which {
                output::Which::Data(data) => data,
                which => {
                    let message = client
                        .history(chat_id, Some(message_id.saturating_add(1)), Direction::Older, Some(1))
                        .await?
                        .into_iter()
                        .find(|m| m.id == message_id)
                        .ok_or_else(|| CliError::new("MESSAGE_NOT_FOUND", format!("no message #{message_id} in this chat")))?;
                    match output::find_button(&message, &which)? {
                        output::Pick::Data(data) => data,
                        output::Pick::Url(url) => {
                            // Nothing to send: a URL button opens its link.
                            println!("{url}");
                            return Ok(());
                        }
                    }
                }
            };
            let answer = client.press_button(chat_id, message_id, &data).await?;
            if json {
                output::line(&serde_json::to_value(&answer).unwrap_or(Value::Null));
            } else {
                println!("{}", output::answer_text(&answer));
            }
            Ok(())
        }
        Command::Keyboard { chat, label, button, json } => {
            let (client, updates, session) = ctx.connect().await?;
            tokio::spawn(drain(updates));
            let chat_id = resolve_chat(&client, &chat).await?;
            let recent = client.history(chat_id, None, Direction::Older, Some(100)).await?;
            let me = session.user_id;
            let Some(shown) = heliograph_client::keyboard::reply_keyboard(&recent, me) else {
                return Err(CliError::new("BUTTON_DATA_INVALID", "no reply keyboard is shown in this chat"));
            };
            let which = match (label, button) {
                (Some(label), _) => output::Which::Label(label),
                (_, Some(n)) => output::Which::Index(n),
                (None, None) => {
                    if json {
                        output::line(&Value::Object(output::message(shown)));
                    } else {
                        for line in output::keyboard_lines(shown) {
                            println!("{}", line.trim_start());
                        }
                    }
                    return Ok(());
                }
            };
            let text = output::find_key(shown, &which)?;
            send(&client, chat_id, &text, None, json).await
        }
        Command::Tui => {
            let (client, updates, session) = ctx.connect().await?;
            tui::run(client, updates, session, &ctx.profile).await
        }
    }
}

async fn login(ctx: &Ctx, phone: &str, code: Option<String>, name: Option<String>) -> Result<(), CliError> {
    let previous = profile::load(&ctx.profile).ok().flatten();
    let url = ctx.server(previous.as_ref());
    let (client, updates) = connect(client_config(&url), &url).await?;
    tokio::spawn(drain(updates));
    client.send_code(phone).await?;
    let code = match code {
        Some(code) => code,
        None => prompt(&format!("code sent to {phone}; enter it: "))?,
    };
    let auth = match client.sign_in(phone, &code, None, Some("helio")).await {
        Err(e) if e.code() == Some(ErrorCode::NameRequired) => {
            let name = match name {
                Some(name) => name,
                None => prompt("new account; your name: ")?,
            };
            client.sign_in(phone, &code, Some(&name), Some("helio")).await?
        }
        other => other?,
    };
    // `watch` starts from now, not from the beginning of the account.
    let state = client.get_state().await?;
    let session = Session {
        server: url,
        token: auth.token,
        user_id: auth.user.id,
        session_id: auth.session_id,
        phone: phone.to_owned(),
        state: SyncState { pts: state.pts, ..SyncState::new() },
    };
    profile::save(&ctx.profile, &session)?;
    println!("logged in as {} (user {})", auth.user.name, auth.user.id);
    Ok(())
}

/// Unix seconds `hours` from now (`None`: for ever).
fn hours_from_now(hours: Option<u32>) -> Option<i64> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    hours.map(|h| now + i64::from(h) * 3_600)
}

/// `helio group promote|demote`: `user` an admin, or a member again.
async fn appoint(client: &Client, chat: &str, user: &str, admin: bool) -> Result<(), CliError> {
    let chat_id = resolve_chat(client, chat).await?;
    let user_id = resolve_user(client, user).await?;
    client.set_admin(chat_id, user_id, admin).await?;
    println!("{} {user}", if admin { "promoted" } else { "demoted" });
    Ok(())
}

async fn group(ctx: &Ctx, action: GroupAction) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match action {
        GroupAction::Create { title, members } => {
            let mut ids = Vec::with_capacity(members.len());
            for m in &members {
                ids.push(resolve_user(&client, m).await?);
            }
            let chat = client.create_group(&title, &ids).await?;
            println!("{}", chat.id);
        }
        GroupAction::Add { chat, user } => {
            let chat_id = resolve_chat(&client, &chat).await?;
            let user_id = resolve_user(&client, &user).await?;
            client.add_members(chat_id, &[user_id]).await?;
            println!("added {user}");
        }
        GroupAction::Remove { chat, user } => {
            let chat_id = resolve_chat(&client, &chat).await?;
            let user_id = resolve_user(&client, &user).await?;
            client.remove_member(chat_id, user_id).await?;
            println!("removed {user}");
        }
        GroupAction::InviteLink { chat } => {
            let chat_id = resolve_chat(&client, &chat).await?;
            println!("{}", client.export_invite(chat_id).await?.link);
        }
        GroupAction::Promote { chat, user } => appoint(&client, &chat, &user, true).await?,
        GroupAction::Demote { chat, user } => appoint(&client, &chat, &user, false).await?,
        GroupAction::Restrict { chat, user, allow, hours, lift } => {
            use heliograph_client::proto::SendKind;
            let kinds: Vec<SendKind> = if lift {
                SendKind::ALL.to_vec()
            } else {
                allow
                    .iter()
                    .map(|k| {
                        serde_json::from_value(Value::String(k.trim().to_string())).map_err(|_| {
                            CliError::new(
                                "BAD_ARGUMENT",
                                format!("--allow: `{k}` is not one of text, photos, videos, audios, documents, voice"),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            };
            let chat_id = resolve_chat(&client, &chat).await?;
            let user_id = resolve_user(&client, &user).await?;
            client.restrict(chat_id, user_id, &kinds, hours_from_now(hours)).await?;
            println!("{} {user}", if lift { "unrestricted" } else { "restricted" });
        }
        GroupAction::Ban { chat, user, hours, lift } => {
            let chat_id = resolve_chat(&client, &chat).await?;
            let user_id = resolve_user(&client, &user).await?;
            if lift {
                client.unban(chat_id, user_id).await?;
                println!("unbanned {user}");
            } else {
                client.ban(chat_id, user_id, hours_from_now(hours)).await?;
                println!("banned {user}");
            }
        }
        GroupAction::Members { chat, json } => {
            let chat_id = resolve_chat(&client, &chat).await?;
            let mut offset = 0;
            loop {
                let page = client.get_members(chat_id, offset, None).await?;
                for m in &page {
                    let role = serde_json::to_value(m.role).unwrap_or(Value::Null);
                    if json {
                        let mut v = output::user(&m.user);
                        v["role"] = role;
                        v["joined"] = m.joined.into();
                        output::line(&v);
                    } else {
                        println!("{}\t{}\t{}", m.user.id, output::display_name(&m.user), role.as_str().unwrap_or(""));
                    }
                }
                if page.is_empty() {
                    break;
                }
                offset += page.len() as u32;
            }
        }
    }
    Ok(())
}

async fn bot(ctx: &Ctx, action: BotAction) -> Result<(), CliError> {
    let (client, updates, session) = ctx.connect().await?;
    tokio::spawn(drain(updates));
    match action {
        BotAction::Create { name, username } => {
            let created = client.create_bot(&name, username.trim_start_matches('@')).await?;
            let b = &created.bot;
            let at = b.username.as_ref().map(|u| format!(" @{u}")).unwrap_or_default();
            println!("created bot {}\t{}{at}", b.id, b.name);
            println!("Bot API: POST {}/bot<token>/METHOD", server_urls(&session.server).remove(0).trim_end_matches('/'));
            println!("token (keep it secret; `helio bot token revoke` replaces it):");
            println!("{}", created.token);
        }
        BotAction::List { json } => {
            for b in client.bots().await? {
                print_user(&b, json);
            }
        }
        BotAction::Token { action: TokenAction::Revoke { bot } } => {
            let id = resolve_user(&client, &bot).await?;
            let token = client.revoke_bot_token(id).await?;
            println!("new token for {bot} (the old one no longer works):");
            println!("{}", token.token);
        }
    }
    Ok(())
}

async fn send(client: &Client, chat_id: i64, text: &str, reply_to: Option<i64>, json: bool) -> Result<(), CliError> {
    let text = read_text(text)?;
    // Returns only once the server has the message durably stored.
    let sent = client.send_message(chat_id, &text, reply_to).await?;
    if json {
        output::line(&Value::Object(output::message(&sent.message)));
    } else {
        println!("{}", sent.message.id);
    }
    Ok(())
}

async fn watch(ctx: &Ctx, json: bool) -> Result<(), CliError> {
    let (client, mut updates, mut session) = ctx.connect().await?;
    // Seeing the dialogs makes the SDK follow the channels and large groups among them.
    let lister = client.clone();
    tokio::spawn(async move {
        let mut offset = None;
        while let Ok(page) = lister.get_dialogs(Some(100), offset).await {
            match page.next {
                Some(next) if !page.dialogs.is_empty() => offset = Some(next),
                _ => break,
            }
        }
    });
    let mut names: HashMap<i64, String> = HashMap::new();
    // One future for the whole run, so an interrupt that arrives while the state is being
    // saved is not missed. The state is saved before the next event is read, so stopping
    // here never loses or repeats one.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let event = tokio::select! {
            event = updates.recv() => event,
            _ = &mut interrupted => return Ok(()),
        };
        let Some(event) = event else {
            return Err(CliError::new("DISCONNECTED", "the client stopped"));
        };
        match event {
            Event::Update(u) => {
                if json {
                    output::line(&output::update(&u));
                } else {
                    let mut ids = vec![u.kind.chat_id()];
                    use heliograph_client::proto::UpdateKind as K;
                    match &u.kind {
                        K::NewMessage { message } | K::EditMessage { message } => ids.push(message.from),
                        K::Participant { user_id, by, .. } => ids.extend([*user_id, *by]),
                        _ => {}
                    }
                    let missing: Vec<i64> = ids.into_iter().filter(|id| !names.contains_key(id)).collect();
                    if !missing.is_empty() {
                        if let Ok(found) = names_of(&client, missing).await {
                            names.extend(found);
                        }
                    }
                    println!("{}", output::update_text(&u, |id| name_of(&names, id)));
                }
            }
            Event::Typing { chat_id, user_id } => {
                if json {
                    output::line(&serde_json::json!({"type": "typing", "chat": chat_id, "from": user_id}));
                } else {
                    println!("[chat {chat_id}] {} is typing…", name_of(&names, user_id));
                }
            }
            Event::TooLong { log } => {
                if json {
                    output::line(&serde_json::json!({"type": "too_long", "log": log}));
                } else {
                    println!("(some updates were too old to replay; run `helio chats` and `helio history` to reload)");
                }
            }
            Event::Connected => eprintln!("connected to {}", session.server),
            Event::Disconnected => eprintln!("disconnected; reconnecting…"),
            Event::SignedOut { error } => {
                return Err(CliError::new(error.code.as_str(), format!("{}: log in again with `helio login PHONE`", error.message)));
            }
            _ => {}
        }
        let _ = std::io::stdout().flush();
        session.state = client.state();
        profile::save(&ctx.profile, &session)?;
    }
}

/// CHAT: `@username` (a user: the private chat with them; a public channel: that chat) or a
/// numeric chat id.
async fn resolve_chat(client: &Client, chat: &str) -> Result<i64, CliError> {
    if let Some(name) = chat.strip_prefix('@') {
        return match client.resolve(name).await? {
            Peer::User { user } => Ok(client.open_private(user.id).await?.id),
            Peer::Chat { chat } => Ok(chat.id),
        };
    }
    chat.parse().map_err(|_| CliError::new("BAD_ARGUMENT", format!("`{chat}` is not a chat: use @username or a numeric chat id")))
}

/// `YYYY-MM-DD` as the Unix time of its first second (UTC).
fn day_start(date: &str) -> Result<i64, CliError> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp())
        .map_err(|_| CliError::new("BAD_ARGUMENT", format!("`{date}` is not a date: use YYYY-MM-DD")))
}

/// USER: `@username` or a numeric user id.
async fn resolve_user(client: &Client, user: &str) -> Result<i64, CliError> {
    if let Some(name) = user.strip_prefix('@') {
        return match client.resolve(name).await? {
            Peer::User { user } => Ok(user.id),
            Peer::Chat { .. } => Err(CliError::new("USER_NOT_FOUND", format!("{user} is a chat, not a user"))),
        };
    }
    user.parse().map_err(|_| CliError::new("BAD_ARGUMENT", format!("`{user}` is not a user: use @username or a numeric user id")))
}

async fn names(client: &Client, ids: impl Iterator<Item = i64>) -> Result<HashMap<i64, String>, CliError> {
    let mut ids: Vec<i64> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    names_of(client, ids).await
}

async fn names_of(client: &Client, ids: Vec<i64>) -> Result<HashMap<i64, String>, CliError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(client.get_users(&ids).await?.into_iter().map(|u| (u.id, output::display_name(&u))).collect())
}

fn name_of(names: &HashMap<i64, String>, id: i64) -> String {
    names.get(&id).cloned().unwrap_or_else(|| format!("user {id}"))
}

fn print_user(u: &heliograph_client::proto::User, json: bool) {
    if json {
        output::line(&output::user(u));
    } else {
        let username = u.username.as_ref().map(|n| format!(" @{n}")).unwrap_or_default();
        let phone = u.phone.as_ref().map(|p| format!(" {p}")).unwrap_or_default();
        let bio = u.bio.as_ref().map(|b| format!(" — {b}")).unwrap_or_default();
        let bot = if u.bot { " [bot]" } else { "" };
        println!("{}\t{}{username}{bot}{phone}{bio}", u.id, u.name);
    }
}

/// TEXT, or all of stdin when it is `-` (one trailing newline dropped).
fn read_text(text: &str) -> Result<String, CliError> {
    if text != "-" {
        return Ok(text.to_owned());
    }
    let mut buf = String::new();
    std::io::stdin().read_to_string(&mut buf).map_err(|e| CliError::new("BAD_ARGUMENT", format!("reading stdin: {e}")))?;
    if buf.ends_with('\n') {
        buf.pop();
        if buf.ends_with('\r') {
            buf.pop();
        }
    }
    Ok(buf)
}

/// Asks on stderr, reads one line from stdin.
fn prompt(question: &str) -> Result<String, CliError> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::new("BAD_ARGUMENT", format!("reading stdin: {e}")))?;
    let answer = line.trim();
    if n == 0 || answer.is_empty() {
        return Err(CliError::new("BAD_ARGUMENT", "no answer on stdin"));
    }
    Ok(answer.to_owned())
}

#[cfg(test)]
mod server_list_tests {
    use super::*;

    #[test]
    fn server_accepts_a_comma_separated_list() {
        assert_eq!(server_urls("http://a:1"), vec!["http://a:1"]);
        assert_eq!(server_urls("http://a:1, http://b:2,,http://c:3 ,"), vec!["http://a:1", "http://b:2", "http://c:3"]);
        assert_eq!(server_urls(" , "), vec![DEFAULT_SERVER]);
        assert_eq!(client_config("http://a:1,http://b:2").urls, vec!["http://a:1", "http://b:2"]);
    }
}

/// `helio admin …` (operators).
#[derive(Debug, Subcommand)]
enum AdminAction {
    /// The report queue: open reports (all with --all), oldest first.
    Reports {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// One report, with the reporter's and the sender's report histories.
    Report {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Act: dismiss, delete_message, suspend, ban, restrict or take_down. Recorded in the
    /// audit log; the affected user is told in their chat with Moderation.
    Act {
        action: String,
        #[arg(long)]
        reason: String,
        #[arg(long, value_name = "ID")]
        report: Option<i64>,
        #[arg(long, value_name = "ID")]
        user: Option<i64>,
        #[arg(long, value_name = "ID")]
        chat: Option<i64>,
        #[arg(long, value_name = "ID")]
        message: Option<i64>,
        /// How long a sanction lasts, e.g. 3600s, 90m, 12h, 7d (ban and restrict: for good
        /// without it).
        #[arg(long, value_name = "DURATION")]
        r#for: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The audit log, oldest first.
    Audit {
        #[arg(long)]
        json: bool,
    },
}

/// `90m` → 5400 seconds.
fn duration_secs(text: &str) -> Result<i64, CliError> {
    let bad = || CliError::new("BAD_ARGUMENT", format!("--for {text:?}: give a number and s, m, h or d (e.g. 7d)"));
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).filter(|s| *s > 0).ok_or_else(bad)
}

async fn admin(ctx: &Ctx, action: AdminAction) -> Result<(), CliError> {
    let client = ctx.client().await?;
    match action {
        AdminAction::Reports { all, json } => {
            for r in client.moderation_reports(all, None, Some(1000)).await? {
                if json {
                    output::line(&output::report(&r));
                } else {
                    let state = r.resolution.as_deref().unwrap_or("open");
                    println!(
                        "#{}\t{}\t{state}\tchat {} message {} from {}: {}",
                        r.id, r.reason, r.chat_id, r.message.id, r.message.from_id, r.message.text
                    );
                }
            }
            Ok(())
        }
        AdminAction::Report { id, json } => {
            let case = client.moderation_report(id).await?;
            if json {
                output::line(&output::report_case(&case));
            } else {
                let r = &case.report;
                println!(
                    "report #{} ({}) by {} [{}]: {}",
                    r.id,
                    r.reason,
                    output::display_name(&case.reporter),
                    case.reporter.id,
                    r.comment
                );
                println!(
                    "message {} of chat {} from {} [{}]: {}",
                    r.message.id,
                    r.chat_id,
                    output::display_name(&case.sender),
                    case.sender.id,
                    r.message.text
                );
                for m in &r.context {
                    println!("  context {} from {}: {}", m.id, m.from_id, m.text);
                }
                println!(
                    "reporter made {} reports; sender's messages were reported {} times",
                    case.reporter_reports.len(),
                    case.sender_reported.len()
                );
                for s in &case.sender_sanctions {
                    println!("sender is under {} ({})", s.kind, s.reason);
                }
            }
            Ok(())
        }
        AdminAction::Act { action, reason, report, user, chat, message, r#for, json } => {
            let until = match r#for {
                Some(d) => Some(
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|t| t.as_secs() as i64).unwrap_or(0)
                        + duration_secs(&d)?,
                ),
                None => None,
            };
            let target =
                heliograph_client::ModerationTarget { report_id: report, user_id: user, chat_id: chat, message_id: message, until };
            let entry = client.moderate(&action, &reason, target).await?;
            if json {
                output::line(&output::audit_entry(&entry));
            } else {
                println!("audit entry {}: {}{}", entry.id, entry.action, if entry.notified { " (user notified)" } else { "" });
            }
            Ok(())
        }
        AdminAction::Audit { json } => {
            for e in client.audit_log(None, Some(1000)).await? {
                if json {
                    output::line(&output::audit_entry(&e));
                } else {
                    println!("{}\t{}\toperator {}\t{}\t{}", e.id, output::date(e.date), e.operator_id, e.action, e.reason);
                }
            }
            Ok(())
        }
    }
}
