import Dispatch
import Foundation
import Phone

/// A record on its way through the pipeline: read and numbered on the reading thread, with the row id its
/// sealed values are bound to when the import writes, and the keys that already refuse it (JSONL).
struct PendingRecord: Sendable {
    let record: InputRecord
    let id: Int64?
    /// Keys that are not fields of the target (JSONL): the record is reported, not validated.
    let unknownKeys: [String]
}

/// What a worker made of one record. Applied to the report in file order, so reports do not depend on timing.
enum RecordOutcome: Sendable {
    case unknownKeys([String], line: Int)
    case problem(ImportReport.LineProblem)
    case valid(byLengthOnly: Bool, encoding: SMSEncoding?, line: [UInt8]?)
}

/// What one worker thread owns: a validator (with its own phone verdict cache) and, when the import writes, an
/// encoder with its own cipher and MAC contexts. Used by one thread at a time.
final class RecordWorker: @unchecked Sendable {
    let validator: RowValidator
    let encoder: RowEncoder?

    init(validator: RowValidator, encoder: RowEncoder?) {
        self.validator = validator
        self.encoder = encoder
    }

    func process(_ batch: [PendingRecord], encode: Bool) throws -> [RecordOutcome] {
        try batch.map { pending in
            guard pending.unknownKeys.isEmpty else { return .unknownKeys(pending.unknownKeys, line: pending.record.line) }
            switch validator.validate(pending.record) {
            case .failure(let problem):
                return .problem(problem)
            case .success(let row):
                let line = try encode ? pending.id.flatMap { id in try encoder?.line(row, id: id) } : nil
                return .valid(byLengthOnly: row.phoneByLengthOnly, encoding: row.encoding, line: line)
            }
        }
    }
}

/// Validates, normalises, seals and encodes records on `workers.count` threads, in batches, while the calling
/// thread reads the file and writes COPY: the database is not kept waiting for the client. Outcomes come back
/// in submission order. At most `2 × workers` batches are in flight, so memory stays flat with file size. With
/// one worker everything runs on the calling thread, in order: the sequential import, for comparison.
final class ImportPipeline {
    static let batchSize = 1024

    private final class Slot: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var outcomes: [RecordOutcome] = []
        var error: (any Error)?
    }

    private let workers: [RecordWorker]
    private let queues: [DispatchQueue]
    private var inFlight: [Slot] = []
    private var submitted = 0

    init(workers: [RecordWorker]) {
        precondition(!workers.isEmpty)
        self.workers = workers
        queues = workers.indices.map { DispatchQueue(label: "lethe.import.worker.\($0)") }
    }

    var pending: Int { inFlight.count }
    var capacity: Int { 2 * workers.count }

    /// Queues a batch; with one worker, processes it now.
    func submit(_ batch: [PendingRecord], encode: Bool) {
        let slot = Slot()
        if workers.count == 1 {
            do { slot.outcomes = try workers[0].process(batch, encode: encode) } catch { slot.error = error }
            slot.done.signal()
        } else {
            let worker = workers[submitted % workers.count]
            queues[submitted % workers.count].async {
                do { slot.outcomes = try worker.process(batch, encode: encode) } catch { slot.error = error }
                slot.done.signal()
            }
        }
        submitted += 1
        inFlight.append(slot)
    }

    /// The oldest batch's outcomes, waiting for them; rethrows a worker's error.
    func next() throws -> [RecordOutcome] {
        let slot = inFlight.removeFirst()
        slot.done.wait()
        if let error = slot.error { throw error }
        return slot.outcomes
    }

    /// Waits for every queued batch (after an error, so no worker still uses what the caller tears down).
    func drainQuietly() {
        while !inFlight.isEmpty { _ = try? next() }
    }
}
