/// The parsers that read untrusted bytes. Each is fuzzed by `make fuzz` (libFuzzer) and its committed corpus
/// is replayed by `make test`, under one contract: no crash, no hang, and every failure a `LetheError` with
/// an exit code; plus the target's own property (below).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A messages or contacts CSV through `lethe validate`: records, header checks, field and phone validation.
    case csv
    /// The same for JSON Lines.
    case jsonl
    /// A policy file: YAML, durations, schedules. Property: no policy that loads exceeds the six-month ceiling.
    case policy
    /// A whole file given to the backup reader (header, chunk framing). Property: nothing but the one genuine
    /// sample authenticates.
    case backup
    /// A genuine backup altered as the input says (bit flip, cut, insertion, chunk moved or duplicated).
    /// Property: every altered file is rejected with the integrity error (exit 79).
    case backupTamper = "backup-tamper"
    /// Sealed-value envelopes. Properties: seal then open gives the input back for any bytes, customer and row;
    /// it does not open under another customer or row; arbitrary bytes never open.
    case envelope
    /// Legacy AES-128-CBC values (IV · ciphertext), then the phone parser on what they decrypt to.
    case legacyCBC = "legacy-cbc"
}
