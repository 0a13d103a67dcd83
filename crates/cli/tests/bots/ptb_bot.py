"""Bots on python-telegram-bot, unmodified, pointed at a Heliograph server.

Run by crates/cli/tests/bot_python.rs as `python ptb_bot.py MODE`, one process per bot, with:

    HELIO_BOT_TOKEN    the bot's token (`helio bot create` prints it)
    HELIO_BOT_SERVER   the server's base URL, e.g. http://127.0.0.1:8080
    HELIO_BOT_HOOK     (webhook mode) host:port for the bot's own webhook receiver
    HELIO_BOT_SECRET   (webhook mode) the secret token for X-Telegram-Bot-Api-Secret-Token

MODE is one of:

    echo      /start answers "Hi! Send me text."; any other text comes back as it is
    keyboard  /start answers "Pick one" with an inline keyboard; a press is answered
              (answerCallbackQuery) and the message edited (editMessageText)
    files     /doc sends a document (600,000 bytes, report.bin); a document received is fetched
              with getFile and described back ("got NAME SIZE N bytes sha256 HEX"), then sent
              back by its file_id ("same file")
    webhook   the echo bot, receiving updates on a webhook with a secret token

Prints "ready" on stdout once updates can arrive (polling started, or the webhook set and its
receiver listening); logs to stderr, which the test prints when it fails. Runs until killed.
"""

import asyncio
import hashlib
import logging
import os
import signal
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

BOT_DOC_SIZE = 600_000


def pattern(size: int) -> bytes:
    """The same bytes as `pattern` in crates/cli/tests/common/bots.rs."""
    return bytes((i * 31) % 251 for i in range(size))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text("Hi! Send me text.")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(update.message.text)


def menu() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Yes", callback_data="yes"), InlineKeyboardButton("No", callback_data="no")],
            [InlineKeyboardButton("Docs", url="https://example.org/docs")],
        ]
    )


async def menu_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text("Pick one", reply_markup=menu())


async def menu_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query.data == "again":
        await query.answer(text="Menu again")
        await query.edit_message_text("Pick one", reply_markup=menu())
    else:
        # "No" is answered with an alert, "Yes" with a notification.
        await query.answer(text=f"You chose {query.data}", show_alert=query.data == "no")
        again = InlineKeyboardMarkup([[InlineKeyboardButton("Again", callback_data="again")]])
        await query.edit_message_text(f"Chosen: {query.data}", reply_markup=again)


async def send_doc(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.bot.send_document(
        update.effective_chat.id, document=pattern(BOT_DOC_SIZE), filename="report.bin", caption="your report"
    )


async def got_doc(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    doc = update.message.document
    file = await context.bot.get_file(doc.file_id)
    data = bytes(await file.download_as_bytearray())
    sha = hashlib.sha256(data).hexdigest()
    await update.message.reply_text(f"got {doc.file_name} {file.file_size} {len(data)} bytes sha256 {sha}")
    await context.bot.send_document(update.effective_chat.id, document=doc.file_id, caption="same file")


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    logging.error("handler failed on %r", update, exc_info=context.error)


def build(mode: str) -> Application:
    server = os.environ["HELIO_BOT_SERVER"].rstrip("/")
    app = (
        Application.builder()
        .token(os.environ["HELIO_BOT_TOKEN"])
        .base_url(f"{server}/bot")
        .base_file_url(f"{server}/file/bot")
        .build()
    )
    if mode in ("echo", "webhook"):
        app.add_handler(CommandHandler("start", start))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    elif mode == "keyboard":
        app.add_handler(CommandHandler("start", menu_start))
        app.add_handler(CallbackQueryHandler(menu_press))
    elif mode == "files":
        app.add_handler(CommandHandler("doc", send_doc))
        app.add_handler(MessageHandler(filters.Document.ALL, got_doc))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    app.add_error_handler(on_error)
    return app


async def main(mode: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    app = build(mode)
    async with app:  # initialize (getMe) ... shutdown
        await app.start()
        if mode == "webhook":
            host, port = os.environ["HELIO_BOT_HOOK"].rsplit(":", 1)
            await app.updater.start_webhook(
                listen=host,
                port=int(port),
                url_path="hook",
                webhook_url=f"http://{host}:{port}/hook",
                secret_token=os.environ["HELIO_BOT_SECRET"],
            )
        else:
            await app.updater.start_polling(poll_interval=0.0, timeout=10)
        logging.info("bot @%s (id %s) ready in mode %s", app.bot.username, app.bot.id, mode)
        print("ready", flush=True)
        await stop.wait()
        await app.updater.stop()
        await app.stop()


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main(sys.argv[1]))
