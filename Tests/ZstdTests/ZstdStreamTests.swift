import LetheCore
import Testing
import Zstd

/// The zstd streams backups flow through: whatever the pieces' sizes, what comes out is what went in; a frame cut
/// short is seen as incomplete (the backup reader refuses it), and bytes that are not zstd fail with a typed error.
@Suite struct ZstdStreamTests {
    static func sample(_ count: Int) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { index in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 56) : UInt8(index % 7)  // some entropy, some repetition
        }
    }

    @Test(arguments: [1, 1000, 65_536, 1 << 20])
    func roundTripsInAnyPieces(piece: Int) throws {
        let input = Self.sample(300_000)
        let compressor = try ZstdCompressor(level: 3)
        var compressed: [UInt8] = []
        for start in stride(from: 0, to: input.count, by: piece) {
            compressed += try compressor.compress(Array(input[start..<min(start + piece, input.count)]))
        }
        compressed += try compressor.compress([], end: true)
        #expect(compressed.count < input.count, "repetitive input compresses")

        let decompressor = try ZstdDecompressor()
        var output: [UInt8] = []
        for start in stride(from: 0, to: compressed.count, by: max(1, piece / 3)) {
            output += try decompressor.decompress(Array(compressed[start..<min(start + max(1, piece / 3), compressed.count)]))
        }
        #expect(decompressor.frameComplete)
        #expect(output == input)
    }

    @Test func aFrameCutShortIsIncomplete() throws {
        let compressor = try ZstdCompressor()
        let compressed = try compressor.compress(Self.sample(100_000), end: true)
        let decompressor = try ZstdDecompressor()
        _ = try decompressor.decompress(Array(compressed.dropLast(8)))
        #expect(!decompressor.frameComplete, "a truncated stream must not look whole")
    }

    @Test func bytesThatAreNotZstdFailWithATypedError() throws {
        let decompressor = try ZstdDecompressor()
        do {
            _ = try decompressor.decompress(Array("this is not a zstd frame at all".utf8))
            Issue.record("garbage decompressed")
        } catch let error as LetheError {
            #expect(!error.message.isEmpty && error.hint != nil, "\(error)")
        }
    }
}
