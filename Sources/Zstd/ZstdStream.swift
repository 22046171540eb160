import CZstd
import LetheCore

/// Streaming zstd compression (backups): feed pieces, get compressed pieces. Owns one `ZSTD_CCtx`.
public final class ZstdCompressor {
    private let context: OpaquePointer
    private var output = [UInt8](repeating: 0, count: Int(ZSTD_CStreamOutSize()))

    public init(level: Int32 = 3) throws(LetheError) {
        guard let context = ZSTD_createCCtx() else { throw .software("cannot allocate a zstd compression context") }
        self.context = context
        guard ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)) == 0 else {
            ZSTD_freeCCtx(context)
            throw .software("zstd refused compression level \(level)")
        }
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input`; with `end`, also closes the frame. Returns what zstd produced (may be empty).
    public func compress(_ input: [UInt8], end: Bool = false) throws(LetheError) -> [UInt8] {
        var produced: [UInt8] = []
        let failure: String? = input.withUnsafeBytes { source in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while true {
                let (code, written) = output.withUnsafeMutableBytes { target in
                    var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    let code = ZSTD_compressStream2(context, &outBuffer, &inBuffer, end ? ZSTD_e_end : ZSTD_e_continue)
                    return (code, outBuffer.pos)
                }
                if ZSTD_isError(code) != 0 { return String(cString: ZSTD_getErrorName(code)) }
                produced.append(contentsOf: output[0..<written])
                let drained = end ? code == 0 : inBuffer.pos == inBuffer.size
                if drained { return nil }
            }
        }
        if let failure { throw .software("zstd compression failed: \(failure)") }
        return produced
    }
}

/// Streaming zstd decompression. Owns one `ZSTD_DCtx`.
public final class ZstdDecompressor {
    private let context: OpaquePointer
    private var output = [UInt8](repeating: 0, count: Int(ZSTD_DStreamOutSize()))
    /// True once a frame has ended exactly at the end of the input given so far.
    public private(set) var frameComplete = false

    public init() throws(LetheError) {
        guard let context = ZSTD_createDCtx() else { throw .software("cannot allocate a zstd decompression context") }
        self.context = context
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompresses `input`, handing the output to `body` one buffer (ZSTD_DStreamOutSize, 128 KiB) at a time:
    /// memory stays flat whatever a chunk expands to (a forged backup's "zstd bomb" took 714 MB for a 16 KB file
    /// when a chunk's whole output was collected first).
    public func decompress(_ input: [UInt8], _ body: ([UInt8]) throws -> Void) throws {
        var failure: String?
        try input.withUnsafeBytes { source in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while true {
                let (code, written, full) = output.withUnsafeMutableBytes { target in
                    var outBuffer = ZSTD_outBuffer(dst: target.baseAddress, size: target.count, pos: 0)
                    let code = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    return (code, outBuffer.pos, outBuffer.pos == outBuffer.size)
                }
                if ZSTD_isError(code) != 0 {
                    failure = String(cString: ZSTD_getErrorName(code))
                    return
                }
                if written > 0 { try body(Array(output[0..<written])) }
                frameComplete = code == 0
                if inBuffer.pos == inBuffer.size && !full { return }
            }
        }
        if let failure { throw LetheError.dataError("the backup stream does not decompress: \(failure)",
                                                       hint: "the file was not written by lethe backup or was altered after it authenticated: run 'lethe backup verify'") }
    }

    /// The whole output of `input` at once, for small trusted inputs (tests).
    public func decompress(_ input: [UInt8]) throws -> [UInt8] {
        var produced: [UInt8] = []
        try decompress(input) { produced += $0 }
        return produced
    }
}
