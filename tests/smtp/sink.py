"""A real SMTP server for the mail tests: aiosmtpd on a loopback port, no TLS, no auth.

    sink.py PORT DIRECTORY

Each message it accepts becomes DIRECTORY/<n>.json, written through a temporary file and a
rename (a reader never sees half a file): the envelope, the raw message, and its subject and
text/plain and text/html parts as Python's standard email parser (an implementation independent
of the server's lettre) decodes them. "ready" on stdout means it accepts connections.
"""

import asyncio
import email
import email.policy
import itertools
import json
import os
import signal
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        # Numbering continues after a restart on the same directory.
        start = len([n for n in os.listdir(directory) if n.endswith(".json")])
        self.counter = itertools.count(start)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)

        def part(kind):
            body = message.get_body(preferencelist=(kind,))
            return body.get_content() if body is not None else None

        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message.get("subject", "")),
            "message_id": str(message.get("message-id", "")),
            "content_type": message.get_content_type(),
            "text": part("plain"),
            "html": part("html"),
            "raw": raw.decode("utf-8", errors="replace"),
        }
        name = f"{next(self.counter):06d}.json"
        partial = os.path.join(self.directory, "." + name + ".partial")
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        os.rename(partial, os.path.join(self.directory, name))
        return "250 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
