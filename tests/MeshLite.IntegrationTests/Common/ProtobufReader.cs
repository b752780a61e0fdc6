namespace MeshLite.IntegrationTests.Common;

/// <summary>Just enough protobuf wire-format reading to decode OTLP in a test receiver.</summary>
internal ref struct ProtobufReader
{
    private ReadOnlySpan<byte> _data;

    public ProtobufReader(ReadOnlySpan<byte> data) => _data = data;

    public bool TryReadTag(out int field, out int wireType)
    {
        if (_data.IsEmpty)
        {
            field = 0;
            wireType = 0;
            return false;
        }

        var tag = ReadVarint();
        field = (int)(tag >> 3);
        wireType = (int)(tag & 7);
        return true;
    }

    public ulong ReadVarint()
    {
        ulong result = 0;
        var shift = 0;
        while (true)
        {
            var b = _data[0];
            _data = _data[1..];
            result |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }

            shift += 7;
        }
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = (int)ReadVarint();
        var bytes = _data[..length];
        _data = _data[length..];
        return bytes;
    }

    public ulong ReadFixed64()
    {
        var value = BitConverter.ToUInt64(_data[..8]);
        _data = _data[8..];
        return value;
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0: ReadVarint(); break;
            case 1: _data = _data[8..]; break;
            case 2: ReadBytes(); break;
            case 5: _data = _data[4..]; break;
            default: throw new InvalidDataException($"wire type {wireType}");
        }
    }
}
