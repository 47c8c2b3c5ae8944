"""safetensors of float32 tensors, written and read as the reference writer lays them out (u64 header length, JSON
header padded with spaces to 8, F32 data): the one copy the fixture scripts in scripts/ share."""
import json, struct
import torch


def save_safetensors(path, tensors, metadata):
    """Writes `tensors` (name -> tensor, as float32) with `metadata` as the header's __metadata__."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def load_safetensors(path):
    """(state_dict of float32 tensors, __metadata__) of an F32 safetensors file (what seqcast writes)."""
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        assert e['dtype'] == 'F32', (name, e['dtype'])
        a, b = e['data_offsets']
        tensors[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(e['shape']).clone()
    return tensors, meta


def read_safetensors(path):
    """(state_dict, the seqcast metadata as parsed JSON) of a seqcast file."""
    tensors, meta = load_safetensors(path)
    return tensors, json.loads(meta.get('seqcast', '{}'))
