"""A tiny MJPEG-over-HTTP camera for tests: `python mjpeg_server.py PORT [FRAMES [stall]]`.

Serves `multipart/x-mixed-replace` JPEG frames at ~20 fps on 127.0.0.1:PORT; each frame shows its number as
a grey level. After FRAMES frames it closes the connection (the stream "ends"), or with `stall` keeps it open
and silent (a hung camera: only a read timeout notices); the test kills and restarts
the process to simulate a camera that dies and comes back.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "frame"


class Handler(BaseHTTPRequestHandler):
    frames = 10**9
    stall = False  # after `frames` frames keep the connection open and send nothing (a hung camera)

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.end_headers()
        try:
            for i in range(self.frames):
                image = np.full((120, 160, 3), (i * 7) % 256, dtype=np.uint8)
                cv2.putText(image, str(i), (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 255), 2)
                jpg = cv2.imencode(".jpg", image)[1].tobytes()
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpg)}\r\n\r\n".encode()
                )
                self.wfile.write(jpg + b"\r\n")
                self.wfile.flush()
                time.sleep(0.05)
            while self.stall:
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


if __name__ == "__main__":
    port = int(sys.argv[1])
    Handler.frames = int(sys.argv[2]) if len(sys.argv) > 2 else 10**9
    Handler.stall = len(sys.argv) > 3 and sys.argv[3] == "stall"
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()
