# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data stream between two blades: a sender reads ranges of a volume, a receiver
writes them into another, and each frame carries the sha256 of its data.

Both ends are small Python programs passed as one argv word (``python3 -c``), run
locally or through ssh, so a backup (send from here) and a restore (send from the
target) use the same two programs.  The sender reads on stdin either ``null`` (scan the
whole volume and send its non-zero 64 KiB pieces, and digest it) or ``{"ranges": [[offset,
length, kind]], "hash": [[offset, length]]}``: kind ``d`` sends the data, ``z`` says the
range reads as zeros (the receiver discards it: nothing is sent and the target's pool
stays thin), and each MiB block of ``hash`` is read once, its sha256 sent in an ``h``
frame and its part of the ranges sent from that same read.  Frames are ``>QIB``
(offset, length, kind) then a sha256 (of the data for ``d``, of the block for ``h``) and
the data.  The last frame (kind ``E``) carries the sha256 chain of every frame; the
receiver checks each frame and the chain, fsyncs, and prints its count as JSON.  A
stream that ends without that frame (the sender or the ssh between them was killed)
fails the receiver, so a cut transfer is never taken for a complete one.

Verification after apply (a backup): the receiver drops the volume's page cache, reads
back each block the sender hashed (every block when there is no base manifest, the
others then expected to be zeros) and compares it with the source's digest, then writes
the point's block manifest: those digests and, for the blocks nobody read, the base
point's entries.  The volume's digest is the sha256 of that manifest (see ``COMMON``).
"""

# ruff: noqa: E501 - the programs sent to the blades keep one statement per line

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess

from ansible_collections.openblade.kvm.plugins.module_utils._lvm.thinmap import unmapped
from ansible_collections.openblade.kvm.plugins.module_utils._reconcile import ReconcileError

# One manifest entry per MiB (32 MiB of manifest per TiB of disk), and the largest frame;
# scan mode sends 64 KiB pieces (the smallest thin chunk).
DIGEST_BLOCK = 2**20
FORMAT = "openblade-blocks 1"  # the manifest's first line: format, block size, volume size

# Shared by every program below: the block manifest of a volume is one sha256 per
# DIGEST_BLOCK (the last one may be short), and the volume's digest is the sha256 of the
# manifest file: a header line, then the 32-byte digests in order.  A block that reads as
# zeros has a known digest, so unallocated ranges are never read to be hashed.
COMMON = r"""
import hashlib,json,os,struct,sys
B=%DIGEST_BLOCK%
def zero_digest(n,_cache={}):
    if n not in _cache: _cache[n]=hashlib.sha256(bytes(n)).digest()
    return _cache[n]
def header(size): return ('%FORMAT% %d %d\n'%(B,size)).encode()
def manifest_digest(size,digests): return hashlib.sha256(header(size)+b''.join(digests)).hexdigest()
def blocks(size): return (size+B-1)//B
def block_len(i,size): return min(B,size-i*B)
""".replace("%DIGEST_BLOCK%", str(DIGEST_BLOCK)).replace("%FORMAT%", FORMAT)

# The same definitions, for digests computed in this process (BlockDigest).
_COMMON = {}
exec(COMMON, _COMMON)  # pylint: disable=exec-used


class BlockDigest:
    """The block-manifest digest of a byte stream fed in pieces of any size (what DIGEST
    prints for a device holding those bytes): hashlib's update()/hexdigest() shape, so a
    copy that streams a volume (off-site copies and restores) checks it against ob_sha256."""

    def __init__(self):
        self.digests, self.pending, self.size = [], bytearray(), 0

    def update(self, data):
        self.size += len(data)
        self.pending += data
        while len(self.pending) >= DIGEST_BLOCK:
            self.digests.append(hashlib.sha256(self.pending[:DIGEST_BLOCK]).digest())
            del self.pending[:DIGEST_BLOCK]

    def hexdigest(self):
        tail = [hashlib.sha256(self.pending).digest()] if self.pending else []
        return _COMMON["manifest_digest"](self.size, self.digests + tail)


# The whole volume read and digested (a restored volume, a test's independent check).
DIGEST = COMMON + r"""
fd=os.open(sys.argv[1],os.O_RDONLY);size=os.lseek(fd,0,2)
print(manifest_digest(size,[hashlib.sha256(os.pread(fd,block_len(i,size),i*B)).digest() for i in range(blocks(size))]))
"""

SENDER = COMMON + r"""
fd=os.open(sys.argv[1],os.O_RDONLY)
size=os.lseek(fd,0,2)
job=json.loads(sys.stdin.read())
out=sys.stdout.buffer
chain=hashlib.sha256()
read=sent=frames=hashed=0
digest=None
def frame(off,n,kind,data=b'',dig=None):
    global sent,frames
    if kind=='d': dig=hashlib.sha256(data).digest()
    dig=dig or b''
    chain.update(struct.pack('>QIB',off,n,ord(kind))+dig)
    out.write(struct.pack('>QIB',off,n,ord(kind))+dig+data)
    sent+=len(data);frames+=1
def pieces(ranges):
    # each range cut at the manifest's block boundaries (so a piece lies in one block)
    for off,n,kind in ranges:
        if off+n>size: sys.exit('range %d+%d is beyond the end of %s (%d bytes)'%(off,n,sys.argv[1],size))
        end=off+n
        while off<end:
            k=min(end,(off//B+1)*B)-off
            yield off,k,kind
            off+=k
if job is None:
    # scan: every block read, its non-zero 64 KiB pieces sent; the volume's digest
    zero=bytes(65536);digests=[]
    for i in range(blocks(size)):
        data=os.pread(fd,block_len(i,size),i*B);read+=len(data);digests.append(hashlib.sha256(data).digest())
        for k in range(0,len(data),65536):
            if data[k:k+65536]!=zero[:len(data[k:k+65536])]: frame(i*B+k,len(data[k:k+65536]),'d',data[k:k+65536])
    digest=manifest_digest(size,digests)
else:
    # the ranges sent; every block of job['hash'] read once, hashed ('h' frame) and its
    # pieces of the ranges sent from that same read; a range outside them is refused
    todo=pieces(job['ranges']);p=next(todo,None)
    for off,n in job['hash']:
        if off%B or (n%B and off+n!=size) or off+n>size: sys.exit('hash range %d+%d is not made of whole blocks'%(off,n))
        for boff in range(off,off+n,B):
            data=os.pread(fd,block_len(boff//B,size),boff);read+=len(data)
            if len(data)!=block_len(boff//B,size): sys.exit('short read at %d of %s'%(boff,sys.argv[1]))
            while p is not None and p[0]<boff+len(data):
                if p[0]<boff: sys.exit('range at %d is not in a hashed block'%p[0])
                if p[2]=='z': frame(p[0],p[1],'z')
                else: frame(p[0],p[1],'d',data[p[0]-boff:p[0]-boff+p[1]])
                p=next(todo,None)
            frame(boff,len(data),'h',dig=hashlib.sha256(data).digest());hashed+=1
    if p is not None: sys.exit('range at %d is not in a hashed block'%p[0])
out.write(struct.pack('>QIB',0,0,ord('E'))+chain.digest())
out.flush()
sys.stderr.write(json.dumps({'read':read,'sent':sent,'frames':frames,'hashed':hashed,'chain':chain.hexdigest(),
  'digest':digest})+'\n')
"""

# argv[2] (optional, JSON): {"base": the base point's manifest or null, "base_digest",
# "out": where this point's manifest goes}.  With it, the receiver re-reads from the device
# (its page cache dropped first) every block the sender hashed, or every block when there
# is no base, compares each with the sender's digest (or the zero digest), and builds the
# point's manifest from those and the base's entries.
RECEIVER = COMMON + r"""
import fcntl
BLKDISCARD=0x1277
fd=os.open(sys.argv[1],os.O_RDWR)
size=os.lseek(fd,0,2)
opts=json.loads(sys.argv[2]) if len(sys.argv)>2 else None
r=sys.stdin.buffer
chain=hashlib.sha256()
written=zeroed=frames=0
expected={};discarded=[]
def take(n):
    data=r.read(n)
    if len(data)!=n: sys.exit('the stream ended early (%d frames received): the sender stopped'%frames)
    return data
def zero_range(off,n):
    # a thin volume unmaps whole chunks on discard; what a partial chunk kept is zeroed below
    try: fcntl.ioctl(fd,BLKDISCARD,struct.pack('QQ',off,n))
    except OSError: os.pwrite(fd,bytes(n),off)
    discarded.append((off,n))
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
        zero_range(off,n);zeroed+=n
    elif kind=='h':
        dig=take(32);expected[off//B]=dig
    else: sys.exit('unknown frame kind %r'%kind)
    chain.update(head+dig);frames+=1
for off,n in discarded:
    for k in range(off,off+n,65536):
        m=min(65536,off+n-k)
        if os.pread(fd,m,k)!=bytes(m): os.pwrite(fd,bytes(m),k)
os.fsync(fd)
result={'written':written,'zeroed':zeroed,'frames':frames,'chain':chain.hexdigest(),'read':0,'checked':0}
if opts is not None:
    os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)  # what is compared is read back from the device
    if opts.get('base'):
        with open(opts['base'],'rb') as f: text=f.read()
        if hashlib.sha256(text).hexdigest()!=opts['base_digest']: sys.exit('the base manifest %s is not the verified one'%opts['base'])
        if text[:len(header(size))]!=header(size): sys.exit('the base manifest %s is of another block size or volume size'%opts['base'])
        body=text[len(header(size)):]
        digests=[body[i*32:i*32+32] for i in range(blocks(size))]
        check=sorted(expected)
    else:
        digests=[None]*blocks(size)
        check=range(blocks(size))
    for i in check:
        data=os.pread(fd,block_len(i,size),i*B);result['read']+=len(data);result['checked']+=1
        got=hashlib.sha256(data).digest()
        if got!=expected.get(i,zero_digest(block_len(i,size))):
            sys.exit('block %d (bytes %d+%d) of %s differs from the source after apply'%(i,i*B,len(data),sys.argv[1]))
        digests[i]=got
    text=header(size)+b''.join(digests)
    os.makedirs(os.path.dirname(opts['out']),0o700,exist_ok=True)
    with open(opts['out']+'.tmp','wb') as f:
        f.write(text);f.flush();os.fsync(f.fileno())
    os.rename(opts['out']+'.tmp',opts['out'])
    result['digest']=hashlib.sha256(text).hexdigest()
print(json.dumps(result))
"""


def python_argv(script, path, *extra):
    return ["python3", "-c", script, path, *extra]


def receiver_options(out, base=None, base_digest=None):
    """The receiver's argv[2]: verify after apply and write the point's manifest to ``out``."""
    return json.dumps({"out": out, "base": base, "base_digest": base_digest}, sort_keys=True)


def device_digest(runner, path):
    """The block-manifest digest of the whole file or device ``path``, read by ``runner``."""
    return runner.run(python_argv(DIGEST, path)).stdout.strip()


def local(argv):
    """A local end: dies with the module (pdeathsig), so a killed run stops writing."""
    return ["setpriv", "--pdeathsig", "KILL", "--"] + argv


def remote(ssh_prefix, argv):
    return ssh_prefix + [shlex.join(argv)]


def transfer(sender_argv, receiver_argv, ranges):
    """Run sender | receiver with ``ranges`` (None: scan); both summaries, checked.

    Returns {'read', 'sent', 'frames', 'hashed', 'chain', 'digest', 'written', 'zeroed',
    'target_read', 'target_digest'}: ``digest`` is the source's (scan mode), ``target_digest``
    the point's after its blocks were compared (when the receiver was given options).
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
    summary.update(written=received["written"], zeroed=received["zeroed"], target_read=received["read"],
                   checked=received["checked"], target_digest=received.get("digest"))
    return summary


def _last(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- the ranges of a job ---------------------------------------------------------------------


def intersect(left, right):
    """The byte ranges in both sorted, non-overlapping lists of ``(offset, length)``."""
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][0] + left[i][1], right[j][0] + right[j][1])
        if start < end:
            out.append((start, end - start))
        if left[i][0] + left[i][1] < right[j][0] + right[j][1]:
            i += 1
        else:
            j += 1
    return out


def with_kinds(changed, mapped, size):
    """``[[offset, length, kind]]``: the changed ranges the volume holds are sent (``d``), the
    ones it does not (discarded since the base) read as zeros and are sent as ``z``."""
    holes = unmapped(mapped, size)
    found = [[offset, length, "d"] for offset, length in intersect(changed, mapped)]
    found += [[offset, length, "z"] for offset, length in intersect(changed, holes)]
    return sorted(found)


def cover(ranges, size, block=DIGEST_BLOCK):
    """The whole manifest blocks that ``ranges`` touch, merged: ``[[offset, length]]``."""
    out = []
    for offset, length in ranges:
        if length <= 0:
            continue
        start = offset // block * block
        end = min(size, -(-(offset + length) // block) * block)
        if out and start <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], end - out[-1][0])
        else:
            out.append([start, end - start])
    return out
