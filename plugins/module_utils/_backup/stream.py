# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data stream between two blades: a sender reads ranges of a volume, a receiver
writes them into another, and each frame carries the sha256 of its data.

Both ends are small Python programs passed as one argv word (``python3 -c``), run
locally or through ssh, so a backup (send from here) and a restore (send from the
target) use the same two programs.  The sender reads a JSON list of ``[offset, length,
kind]`` on stdin (``d``: send the data, ``z``: the range must read as zeros) or ``null``
(scan the whole volume and send its non-zero 64 KiB blocks).  Frames are ``>QIB``
(offset, length, kind) then, for data, the sha256 of the data and the data.  The last
frame (kind ``E``) carries the sha256 chain of every frame's digest; the receiver checks
each frame and the chain, fsyncs, and prints its count as JSON.  A stream that ends
without that frame (the sender or the ssh between them was killed) fails the receiver,
so a cut transfer is never taken for a complete one.
"""

from __future__ import annotations

import json
import shlex
import subprocess

from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

BLOCK = 4 * 2**20  # the largest frame; scan mode sends 64 KiB blocks (the smallest thin chunk)

SENDER = r"""
import hashlib,json,os,struct,sys
fd=os.open(sys.argv[1],os.O_RDONLY)
size=os.lseek(fd,0,2)
ranges=json.loads(sys.stdin.read())
out=sys.stdout.buffer
chain=hashlib.sha256()
whole=hashlib.sha256() if ranges is None else None
read=sent=frames=0
def frame(off,n,kind,data=b''):
    global sent,frames
    dig=hashlib.sha256(data).digest() if kind=='d' else b''
    chain.update(struct.pack('>QIB',off,n,ord(kind))+dig)
    out.write(struct.pack('>QIB',off,n,ord(kind))+dig+data)
    sent+=len(data);frames+=1
if ranges is None:
    zero=bytes(65536);off=0
    while off<size:
        data=os.pread(fd,min(65536,size-off),off);read+=len(data);whole.update(data)
        if data!=zero[:len(data)]: frame(off,len(data),'d',data)
        off+=len(data)
else:
    for off,n,kind in ranges:
        if off+n>size: sys.exit('range %d+%d is beyond the end of %s (%d bytes)'%(off,n,sys.argv[1],size))
        end=off+n
        while off<end:
            k=min(%BLOCK%,end-off)
            if kind=='z': frame(off,k,'z')
            else:
                data=os.pread(fd,k,off);read+=len(data)
                if len(data)!=k: sys.exit('short read at %d of %s'%(off,sys.argv[1]))
                frame(off,k,'d',data)
            off+=k
out.write(struct.pack('>QIB',0,0,ord('E'))+chain.digest())
out.flush()
sys.stderr.write(json.dumps({'read':read,'sent':sent,'frames':frames,'chain':chain.hexdigest(),
  'digest':whole.hexdigest() if whole else None})+'\n')
""".replace("%BLOCK%", str(BLOCK))

RECEIVER = r"""
import hashlib,json,os,struct,sys
fd=os.open(sys.argv[1],os.O_WRONLY)
size=os.lseek(fd,0,2)
r=sys.stdin.buffer
chain=hashlib.sha256()
written=zeroed=frames=0
def take(n):
    data=r.read(n)
    if len(data)!=n: sys.exit('the stream ended early (%d frames received): the sender stopped'%frames)
    return data
while True:
    head=take(13)
    off,n,kind=struct.unpack('>QIB',head);kind=chr(kind)
    if kind=='E':
        if take(32)!=chain.digest(): sys.exit('the chain of frame checksums differs from the sender\'s')
        break
    if off+n>size: sys.exit('frame %d+%d is beyond the end of %s'%(off,n,sys.argv[1]))
    dig=b''
    if kind=='d':
        dig=take(32);data=take(n)
        if hashlib.sha256(data).digest()!=dig: sys.exit('frame at %d: checksum mismatch'%off)
        os.pwrite(fd,data,off);written+=n
    elif kind=='z':
        os.pwrite(fd,bytes(n),off);zeroed+=n
    else: sys.exit('unknown frame kind %r'%kind)
    chain.update(head+dig);frames+=1
os.fsync(fd)
print(json.dumps({'written':written,'zeroed':zeroed,'frames':frames,'chain':chain.hexdigest()}))
"""


def python_argv(script, path):
    return ["python3", "-c", script, path]


def local(argv):
    """A local end: dies with the module (pdeathsig), so a killed run stops writing."""
    return ["setpriv", "--pdeathsig", "KILL", "--"] + argv


def remote(ssh_prefix, argv):
    return ssh_prefix + [shlex.join(argv)]


def transfer(sender_argv, receiver_argv, ranges):
    """Run sender | receiver with ``ranges`` (None: scan); both summaries, checked.

    Returns {'read', 'sent', 'frames', 'chain', 'digest', 'written', 'zeroed'}.
    """
    with subprocess.Popen(sender_argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as sender:
        with subprocess.Popen(receiver_argv, stdin=sender.stdout, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) as receiver:
            sender.stdout.close()  # the receiver holds it now: its exit is the sender's EPIPE
            try:
                sender.stdin.write(json.dumps(ranges).encode())
                sender.stdin.close()
            except BrokenPipeError:
                pass
            got, got_err = receiver.communicate()
        sent_err = sender.stderr.read()
        sender.wait()
    sent_text = sent_err.decode("utf-8", "replace").strip()
    got_text = got_err.decode("utf-8", "replace").strip()
    if sender.returncode != 0 or receiver.returncode != 0:
        raise ReconcileError(
            f"the data transfer failed: sender rc {sender.returncode} ({_last(sent_text) or 'no output'}), "
            f"receiver rc {receiver.returncode} ({_last(got_text) or 'no output'})")
    summary = json.loads(sent_text.splitlines()[-1])
    received = json.loads(got.decode())
    if received["chain"] != summary["chain"] or received["frames"] != summary["frames"]:
        raise ReconcileError(f"the receiver's checksums differ from the sender's (sent {summary}, "
                             f"received {received})")
    summary.update(written=received["written"], zeroed=received["zeroed"])
    return summary


def _last(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
