import Foundation
import LetheCore

/// libphonenumber's verdicts on recent inputs, shared by an import's worker threads: parsing and validating a
/// distinct number is the costliest step of intake (~12 µs), and a number seen by one worker is often met again
/// by another. Region and rules are fixed for one cache, so the raw input alone keys the verdict.
///
/// Bounded: at most `capacity` entries (each a short input and 9 bytes of verdict), in shards with a lock each; a
/// full shard is emptied. Numbers of up to 15 bytes are stored in the string itself, without an allocation.
public final class PhoneVerdictCache: @unchecked Sendable {
    public typealias Verdict = Result<(number: PhoneNumber, acceptance: PhoneAcceptance), PhoneNumber.Problem>

    /// A verdict in 9 bytes: the E.164 digits as an integer (E.164 has at most 15 digits and no leading zero after
    /// the `+`) and a code: 0–2 an acceptance, 16 and up a problem.
    private struct Packed {
        let digits: UInt64
        let code: UInt8
    }


    /// About 24 MB when full: 786,432 entries fill 2^20 dictionary buckets at their 3/4 load.
    public static let defaultCapacity = 786_432
    private static let shardCount = 64
    /// Parts of the entries with a lock each, so that threads rarely wait on each other; a part is emptied when full.
    private let shards: [Locked<[String: Packed]>]
    private let shardCapacity: Int
    public let defaultRegion: String
    public let rules: PhoneRules
    /// The region is checked once, not per number.
    private let regionSupported: Bool

    public init(defaultRegion: String, rules: PhoneRules, capacity: Int = PhoneVerdictCache.defaultCapacity) {
        self.defaultRegion = defaultRegion.uppercased()
        self.rules = rules
        regionSupported = self.defaultRegion == "ZZ" || PhoneNumber.isSupported(region: self.defaultRegion)
        shards = (0..<Self.shardCount).map { _ in Locked([:]) }
        shardCapacity = max(16, capacity / Self.shardCount)
    }

    public func check(_ input: String) -> Verdict {
        let shard = shards[Int(UInt(bitPattern: input.hashValue) % UInt(Self.shardCount))]
        let known = shard.withLock { $0[input] }
        if let known, let verdict = Self.unpack(known) { return verdict }
        guard regionSupported else { return .failure(.unknownRegion) }
        let verdict = PhoneNumber.check(input, supportedRegion: defaultRegion, rules: rules)
        guard let packed = Self.pack(verdict) else { return verdict }
        shard.withLock { entries in
            // Room for the whole shard at once: growing by doubling rehashed every entry several times.
            if entries.isEmpty { entries.reserveCapacity(shardCapacity) }
            if entries.count >= shardCapacity { entries.removeAll(keepingCapacity: true) }
            entries[input] = packed
        }
        return verdict
    }

    /// Cached with their E.164 digits; a short code (no `+`) is checked again each time, which is cheap.
    private static let acceptances: [PhoneAcceptance] = [.ranges, .lengthOnly, .operatorRange, .internationalWithoutPlus]
    private static let problems = PhoneNumber.Problem.allCases

    private static func pack(_ verdict: Verdict) -> Packed? {
        switch verdict {
        case .success(let accepted):
            guard let code = acceptances.firstIndex(of: accepted.acceptance), let digits = accepted.number.e164Digits else { return nil }
            return Packed(digits: digits, code: UInt8(code))
        case .failure(let problem):
            guard let index = problems.firstIndex(of: problem) else { return nil }
            return Packed(digits: 0, code: 16 + UInt8(index))
        }
    }

    private static func unpack(_ packed: Packed) -> Verdict? {
        if packed.code >= 16 {
            let index = Int(packed.code - 16)
            return index < problems.count ? .failure(problems[index]) : nil
        }
        guard Int(packed.code) < acceptances.count else { return nil }
        return .success((PhoneNumber(validatedE164: "+" + String(packed.digits)), acceptances[Int(packed.code)]))
    }
}

extension PhoneNumber {
    /// The digits after `+` as an integer, when they read back unchanged (no leading zero, at most 15 digits).
    var e164Digits: UInt64? {
        let bytes = e164.utf8
        guard bytes.first == 0x2B, bytes.count >= 2, bytes.count <= 16, bytes.dropFirst().first != 0x30 else { return nil }
        var digits: UInt64 = 0
        for byte in bytes.dropFirst() {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            digits = digits * 10 + UInt64(byte - 0x30)
        }
        return digits
    }
}
