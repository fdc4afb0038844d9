# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real HTTP server on 127.0.0.1 for the download tests: serves one file, honours
``Range: bytes=N-`` (or ignores it, like some servers), can break the connection after a
number of bytes, and records each request's path and Range header.

The lab test runs this same file on a blade (``python3 image_server.py FILE --port N``),
so the blade serves its image to itself over loopback and nothing leaves the lab.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import re
import threading

_RANGE = re.compile(r"bytes=(\d+)-$")


class ImageServer:
    def __init__(self, content, ranges=True, port=0, log=None):
        self.content = content
        self.ranges = ranges
        self.cut_after = None  # break the next response after this many body bytes
        self.requests = []  # (path, Range header or None)
        self.log = log  # a file that gets each request as a JSON line, too
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                wanted = self.headers.get("Range")
                server.record(self.path, wanted)
                if self.path != "/image":
                    self.send_error(404)
                    return
                body, start = server.content, 0
                found = _RANGE.match(wanted or "") if server.ranges else None
                if found:
                    start = int(found.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut, server.cut_after = server.cut_after, None
                self.wfile.write(body[start:] if cut is None else body[start:start + cut])
                if cut is not None:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/image"

    def record(self, path, wanted):
        self.requests.append((path, wanted))
        if self.log:
            with open(self.log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"path": path, "range": wanted}) + "\n")

    @contextlib.contextmanager
    def running(self):
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join()


def main():
    parser = argparse.ArgumentParser(description="Serve FILE as /image on 127.0.0.1.")
    parser.add_argument("file")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True, help="append each request here as a JSON line")
    parser.add_argument("--cut-first", type=int, help="break the first response after this many bytes")
    args = parser.parse_args()
    with open(args.file, "rb") as handle:
        server = ImageServer(handle.read(), port=args.port, log=args.log)
    server.cut_after = args.cut_first
    server.httpd.serve_forever()


if __name__ == "__main__":
    main()
