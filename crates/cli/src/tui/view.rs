//! Draws a [`Model`] into a ratatui frame. Reads the model only; the cost of a frame follows
//! the screen's size, not the chat's length: the history pane formats messages from the
//! bottom up and stops when the pane is full.

use std::time::Instant;

use heliograph_client::proto::{ChatKind, Message, SearchResult};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use super::model::{buttons, Compose, DialogRow, Focus, History, Model, Search};
use crate::output;

/// The help overlay's text.
pub const HELP: &[(&str, &str)] = &[
    ("Up/Down, j/k", "choose a chat (list); select a message (chat)"),
    ("Ctrl-N / Ctrl-P", "next / previous chat, from anywhere"),
    ("Ctrl-F", "search all chats (list) or this chat; in the prompt: switch"),
    ("  Enter, ↑/↓", "  search; choose a result; Enter opens it at the message"),
    ("Tab, Enter", "switch between the list and the chat"),
    ("PageUp/PageDown", "scroll 10 messages (older pages load on demand)"),
    ("End", "back to the newest message"),
    ("Enter", "send the input line"),
    ("Ctrl-R", "reply to the selected message"),
    ("Ctrl-E", "edit the selected message (yours)"),
    ("Ctrl-D", "delete the selected message for everyone (yours)"),
    ("Ctrl-T", "react 👍 to the selected message (again: take it back)"),
    ("Ctrl-X", "report the selected message to the operators (as spam)"),
    ("Ctrl-B", "a bot's buttons: ←/→ choose, Enter or 1-9 press, Esc"),
    ("Ctrl-K", "a bot's reply keyboard: ←/→ choose, Enter or 1-9 send, Esc"),
    ("Esc", "cancel reply/edit, then the selection, then to the list"),
    ("Esc, q (in the list)", "quit"),
    ("Ctrl-C", "quit from anywhere"),
    ("? (list), F1", "this help; any key closes it"),
];

pub fn draw(frame: &mut Frame, model: &Model, now: Instant) {
    let area = frame.area();
    let list_width = (area.width / 3).clamp(12, 32);
    let [left, right] = Layout::horizontal([Constraint::Length(list_width), Constraint::Min(1)]).areas(area);
    dialog_list(frame, model, left);
    match &model.search {
        Some(s) if model.focus == Focus::Search => search(frame, model, s, right),
        _ => chat(frame, model, right, now),
    }
    if model.help {
        help(frame, area);
    }
}

fn focus_style(focused: bool) -> Style {
    if focused {
        Style::new().fg(Color::Cyan)
    } else {
        Style::new().fg(Color::DarkGray)
    }
}

fn dialog_list(frame: &mut Frame, model: &Model, area: Rect) {
    let focused = model.focus == Focus::Dialogs && !model.help;
    let block = Block::bordered().title(" Chats ").border_style(focus_style(focused));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    if model.dialogs.is_empty() {
        let text = if model.dialogs_loaded { "no chats yet" } else { "loading…" };
        frame.render_widget(Paragraph::new(text).dark_gray(), inner);
        return;
    }
    let selected = model.selected();
    // Keep the selected row on screen; draw only the rows that fit.
    let first = selected.map_or(0, |s| s.saturating_sub(height.saturating_sub(1)));
    let lines: Vec<Line> = model
        .dialogs
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, row)| dialog_line(row, inner.width as usize, Some(i) == selected, focused))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn dialog_line(row: &DialogRow, width: usize, selected: bool, focused: bool) -> Line<'static> {
    let badge = if row.unread > 0 { format!(" {}", row.unread) } else { String::new() };
    let mark = match row.chat.kind {
        ChatKind::Private => "",
        ChatKind::Group => "# ",
        ChatKind::Channel => "» ",
    };
    let title = fit(&format!("{mark}{}", row.chat.title), width.saturating_sub(badge.chars().count()));
    let pad = width.saturating_sub(str_width(&title) + badge.chars().count());
    let mut style = Style::new();
    if row.unread > 0 {
        style = style.add_modifier(Modifier::BOLD);
    }
    if selected {
        style = if focused { style.add_modifier(Modifier::REVERSED) } else { style.add_modifier(Modifier::UNDERLINED) };
    }
    Line::from(vec![Span::styled(format!("{title}{}", " ".repeat(pad)), style), Span::styled(badge, style.fg(Color::Green))])
}

fn chat(frame: &mut Frame, model: &Model, area: Rect, now: Instant) {
    let keyboard = model.open.and_then(|chat| model.reply_keys(chat)).and_then(|m| m.reply_markup.as_ref());
    let key_rows = keyboard.map_or(0, |k| k.keyboard.len().min(4)) as u16;
    let [history_area, status_area, keys_area, input_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1), Constraint::Length(key_rows), Constraint::Length(3)]).areas(area);
    let focused = model.focus == Focus::Chat && !model.help;
    let Some(row) = model.open_row() else {
        frame.render_widget(Paragraph::new("Start a chat with `helio send @user TEXT`; it shows up here.").block(Block::bordered()), area);
        return;
    };
    let mut title = format!(" {} ", row.chat.title);
    match row.chat.kind {
        ChatKind::Private => {}
        ChatKind::Group => title.push_str(&format!("· group, {} members ", row.chat.member_count)),
        ChatKind::Channel => title.push_str(&format!("· channel, {} subscribers ", row.chat.member_count)),
    }
    if row.chat.peer.as_ref().is_some_and(|p| p.bot) {
        title.push_str("· bot ");
    }
    if let Some(pin) = row.chat.pinned_message_id {
        title.push_str(&format!("· pinned #{pin} "));
    }
    let block = Block::bordered().title(title).border_style(focus_style(focused));
    let inner = block.inner(history_area);
    frame.render_widget(block, history_area);
    if let Some(h) = model.open_history() {
        let lines = history_lines(model, row, h, inner.width as usize, inner.height as usize);
        frame.render_widget(Paragraph::new(lines), inner);
    }

    // The status line: typing first, then what Enter will do, then connection and errors.
    let status = if model.picking.is_some_and(|p| p.chat_id == row.chat.id) {
        Line::from("buttons: ←/→ choose, Enter or 1-9 press, Esc cancels").yellow()
    } else if model.keying.is_some_and(|(chat, _)| chat == row.chat.id) {
        Line::from("keyboard: ←/→ choose, Enter or 1-9 send, Esc cancels").yellow()
    } else if let Some(t) = model.typing_line(row.chat.id, now) {
        Line::from(t).italic().green()
    } else {
        match model.compose {
            Compose::Reply(id) => Line::from(format!("↩ replying to #{id}: Esc cancels")).yellow(),
            Compose::Edit(id) => Line::from(format!("✎ editing #{id}: Enter saves, Esc cancels")).yellow(),
            Compose::New if model.open_history().is_some_and(|h| h.more_newer) => {
                Line::from(format!("↓ newer messages below (End: the newest)   {}   F1 help", model.status)).dark_gray()
            }
            Compose::New => Line::from(format!("{}   F1 help", model.status)).dark_gray(),
        }
    };
    frame.render_widget(Paragraph::new(status), status_area);

    // The reply keyboard, in place of the letter keys a phone would hide (Ctrl-K to use it).
    if let Some(k) = keyboard {
        let chosen = model.keying.filter(|(chat, _)| *chat == row.chat.id).map(|(_, i)| i);
        let mut n = 0;
        let lines: Vec<Line> = k
            .keyboard
            .iter()
            .map(|keys| {
                let mut spans = Vec::with_capacity(keys.len() * 2);
                for key in keys {
                    let label = if chosen.is_some() { format!("[{} {}]", n + 1, key.text) } else { format!("[{}]", key.text) };
                    let style = Style::new().fg(Color::Magenta);
                    spans.push(Span::styled(label, if chosen == Some(n) { style.add_modifier(Modifier::REVERSED) } else { style }));
                    spans.push(Span::raw(" "));
                    n += 1;
                }
                Line::from(spans)
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), keys_area);
    }

    let input_title = match model.compose {
        Compose::New => " Message ".to_owned(),
        Compose::Reply(id) => format!(" Reply to #{id} "),
        Compose::Edit(id) => format!(" Edit #{id} "),
    };
    let block = Block::bordered().title(input_title).border_style(focus_style(focused));
    let inner = block.inner(input_area);
    frame.render_widget(block, input_area);
    // Show the end of a long input.
    let room = (inner.width as usize).saturating_sub(1);
    let shown = tail(&model.input, room);
    let shown_width = str_width(&shown) as u16;
    let placeholder = keyboard.and_then(|k| k.input_field_placeholder.clone()).filter(|_| model.input.is_empty());
    match placeholder {
        Some(p) => frame.render_widget(Paragraph::new(Line::from(tail(&p, room)).dark_gray()), inner),
        None => frame.render_widget(Paragraph::new(shown), inner),
    }
    if focused {
        frame.set_cursor_position((inner.x + shown_width, inner.y));
    }
}

/// The search prompt over the chat pane: the query on top, then the results, two lines each
/// (where and who, then the snippet with the matched words highlighted).
fn search(frame: &mut Frame, model: &Model, s: &Search, area: Rect) {
    let scope = match s.chat {
        Some(chat) => {
            let title = model.dialogs.iter().find(|d| d.chat.id == chat).map_or_else(|| format!("chat {chat}"), |d| d.chat.title.clone());
            format!(" Search in {title} ")
        }
        None => " Search all chats ".to_owned(),
    };
    let [prompt_area, results_area, status_area] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(1), Constraint::Length(1)]).areas(area);
    let block = Block::bordered().title(scope).border_style(focus_style(!model.help));
    let inner = block.inner(prompt_area);
    frame.render_widget(block, prompt_area);
    let room = (inner.width as usize).saturating_sub(1);
    let shown = tail(&s.query, room);
    frame.render_widget(Paragraph::new(shown.clone()), inner);
    frame.set_cursor_position((inner.x + str_width(&shown) as u16, inner.y));

    let block = Block::bordered().title(" Results ").border_style(focus_style(false));
    let inner = block.inner(results_area);
    frame.render_widget(block, results_area);
    let width = inner.width as usize;
    let per_page = (inner.height as usize / 2).max(1);
    let first = s.selected.saturating_sub(per_page - 1);
    let mut lines = Vec::with_capacity(inner.height as usize);
    for (i, hit) in s.results.iter().enumerate().skip(first).take(per_page) {
        lines.extend(result_lines(model, s, hit, width, i == s.selected));
    }
    frame.render_widget(Paragraph::new(lines), inner);

    let status = if s.loading {
        "searching…".to_owned()
    } else if s.asked.is_none() {
        "type words (or \"a phrase\"), Enter searches · Ctrl-F this chat / all chats · Esc closes".to_owned()
    } else if s.results.is_empty() {
        format!("no messages found for {:?}", s.asked.as_deref().unwrap_or(""))
    } else {
        let more = if s.next_offset.is_some() { "+" } else { "" };
        format!("{}{more} found · ↑/↓ choose · Enter opens · Esc closes", s.results.len())
    };
    frame.render_widget(Paragraph::new(Line::from(status).dark_gray()), status_area);
}

/// `Chat · Sender · date` and the snippet of one result.
fn result_lines(model: &Model, s: &Search, hit: &SearchResult, width: usize, selected: bool) -> Vec<Line<'static>> {
    let m = &hit.message;
    let chat = s.titles.get(&m.chat_id).cloned().unwrap_or_else(|| format!("chat {}", m.chat_id));
    let base = if selected { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
    let head = fit(&format!("{chat} · {} · {}", model.name(m.from), output::date(m.date)), width);
    let mut spans = vec![Span::raw("  ")];
    let mut word = String::new();
    let mut at = 0u32;
    let mut inside = false;
    let lit = base.fg(Color::Yellow).add_modifier(Modifier::BOLD);
    for c in hit.snippet.chars() {
        let starts = hit.highlights.iter().any(|&[start, len]| start == at && len > 0);
        let ends = hit.highlights.iter().any(|&[start, len]| start + len == at && len > 0);
        if (starts || ends) && !word.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut word), if inside { lit } else { base }));
        }
        if ends {
            inside = false;
        }
        if starts {
            inside = true;
        }
        word.push(if c.is_control() { ' ' } else { c });
        at += c.len_utf16() as u32;
    }
    if !word.is_empty() {
        spans.push(Span::styled(word, if inside { lit } else { base }));
    }
    vec![Line::from(Span::styled(head, base.fg(Color::Cyan))), Line::from(spans)]
}

/// The lines of the history pane, bottom-up from the selected (or newest) message until the
/// pane is full: O(visible lines), whatever the number of messages loaded.
pub fn history_lines(model: &Model, row: &DialogRow, h: &History, width: usize, height: usize) -> Vec<Line<'static>> {
    if width == 0 || height == 0 {
        return Vec::new();
    }
    let len = h.messages.len();
    let end = match h.cursor {
        Some(c) if len > 0 => len - c.min(len - 1),
        _ => len,
    };
    let mut lines: Vec<Line<'static>> = Vec::with_capacity(height);
    for (i, m) in h.messages[..end].iter().enumerate().rev() {
        if lines.len() >= height {
            break;
        }
        let selected = h.cursor.is_some() && i + 1 == end;
        let mut ml = message_lines(model, row, m, width, selected);
        ml.reverse();
        lines.extend(ml);
    }
    if lines.len() < height {
        if h.loading {
            lines.push(Line::from("… loading").dark_gray());
        } else if h.more_older {
            lines.push(Line::from("↑ older messages").dark_gray());
        } else if h.loaded && h.messages.is_empty() {
            lines.push(Line::from("no messages yet").dark_gray());
        }
    }
    // Like a chat: a short history sits at the bottom, next to the input line.
    lines.resize(height, Line::default());
    lines.reverse();
    lines
}

/// `HH:MM Name ↩#3 ✓✓: text`, wrapped to `width`; the prefix styled on the first line.
fn message_lines(model: &Model, row: &DialogRow, m: &Message, width: usize, selected: bool) -> Vec<Line<'static>> {
    let date = output::date(m.date);
    let mut prefix = format!("{} {}", &date[11..], model.name(m.from));
    if let Some(r) = m.reply_to {
        prefix.push_str(&format!(" ↩#{r}"));
    }
    if m.edit_date.is_some() {
        prefix.push_str(" (edited)");
    }
    if m.from == model.me && row.chat.kind != ChatKind::Channel {
        prefix.push_str(if m.id <= row.read_outbox { " ✓✓" } else { " ✓" });
    }
    prefix.push_str(": ");
    let text = format!("{prefix}{}", output::plain_text(m.content.text().unwrap_or(""), &m.entities));
    let base = if selected { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
    let name_style = if m.from == model.me { base.fg(Color::Cyan) } else { base.fg(Color::Yellow) };
    wrap(&text, width)
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            let plen = prefix.len();
            if n == 0 && line.len() >= plen && line.is_char_boundary(plen) {
                let (p, rest) = line.split_at(plen);
                Line::from(vec![Span::styled(p.to_owned(), name_style), Span::styled(rest.to_owned(), base)])
            } else {
                Line::from(Span::styled(line, base))
            }
        })
        .chain(reaction_line(m))
        .chain(button_lines(model, m))
        .collect()
}

/// `  👍 2  🔥 1*` under a message that has reactions (`*`: yours).
fn reaction_line(m: &Message) -> Option<Line<'static>> {
    let r = m.reactions.as_ref().filter(|r| !r.results.is_empty())?;
    Some(Line::from(Span::styled(format!("  {}", output::reactions_text(r)), Style::new().fg(Color::Magenta))))
}

/// The buttons under a message, a row per line: `  [Yes] [No]`; while choosing (Ctrl-B) they
/// are numbered and the chosen one is highlighted.
fn button_lines(model: &Model, m: &Message) -> Vec<Line<'static>> {
    let Some(markup) = &m.reply_markup else { return Vec::new() };
    if markup.force_reply {
        return vec![Line::from("  ↩ reply requested").dark_gray()];
    }
    if !markup.keyboard.is_empty() || markup.remove_keyboard {
        let what = if markup.remove_keyboard { "  ⌨ keyboard removed" } else { "  ⌨ keyboard (Ctrl-K)" };
        return vec![Line::from(what).dark_gray()];
    }
    let picking = model.picking.filter(|p| p.chat_id == m.chat_id && p.message_id == m.id);
    let count = buttons(m).len();
    let mut n = 0;
    let mut lines = Vec::with_capacity(markup.inline_keyboard.len());
    for row in &markup.inline_keyboard {
        let mut spans = vec![Span::raw("  ")];
        for b in row {
            let label = match (&picking, &b.url) {
                (Some(_), None) => format!("[{} {}]", n + 1, b.text),
                (Some(_), Some(_)) => format!("[{} {} ↗]", n + 1, b.text),
                (None, None) => format!("[{}]", b.text),
                (None, Some(_)) => format!("[{} ↗]", b.text),
            };
            let chosen = picking.is_some_and(|p| p.index.min(count.saturating_sub(1)) == n);
            let style = if chosen { Style::new().fg(Color::Cyan).add_modifier(Modifier::REVERSED) } else { Style::new().fg(Color::Cyan) };
            spans.push(Span::styled(label, style));
            spans.push(Span::raw(" "));
            n += 1;
        }
        spans.pop();
        lines.push(Line::from(spans));
    }
    lines
}

/// Breaks `text` into lines at most `width` columns wide: at newlines, at the last space
/// that fits, or inside a word longer than a line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_width = 0;
        for ch in paragraph.chars() {
            let w = ch.width().unwrap_or(0);
            if line_width + w > width && !line.is_empty() {
                match line.rfind(' ') {
                    Some(at) if at > 0 && ch != ' ' => {
                        let rest = line[at + 1..].to_owned();
                        line.truncate(at);
                        out.push(std::mem::replace(&mut line, rest));
                    }
                    _ => out.push(std::mem::take(&mut line)),
                }
                line_width = str_width(&line);
                if ch == ' ' && line.is_empty() {
                    continue;
                }
            }
            line.push(ch);
            line_width += w;
        }
        out.push(line);
    }
    out
}

fn str_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// The start of `s` within `width` columns, with `…` when cut.
fn fit(s: &str, width: usize) -> String {
    if str_width(s) <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for ch in s.chars() {
        let cw = ch.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(ch);
        w += cw;
    }
    out.push('…');
    out
}

/// The end of `s` within `width` columns.
fn tail(s: &str, width: usize) -> String {
    let mut w = 0;
    let mut start = s.len();
    for (i, ch) in s.char_indices().rev() {
        let cw = ch.width().unwrap_or(0);
        if w + cw > width {
            break;
        }
        w += cw;
        start = i;
    }
    s[start..].to_owned()
}

fn help(frame: &mut Frame, area: Rect) {
    let width = area.width.min(80);
    let height = area.height.min(HELP.len() as u16 + 4);
    let popup = Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height };
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| Line::from(vec![Span::styled(format!("{keys:>20}  "), Style::new().bold()), Span::raw(*what)]))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from("any key closes this help").dark_gray());
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Help: helio tui ").cyan()), popup);
}
