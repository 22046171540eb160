import Access
import ArgumentParser
import Foundation
import Keys
import Ledger
import LetheCore
import Phone
import Policy
import Subject

struct SubjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subject",
        abstract: "Answer a data subject: export (GDPR art. 15) or erase (art. 17) everything about a phone number.",
        discussion: """
            The person is found through the blind index, and every candidate is decrypted and confirmed, so a blind-index \
            collision never exports or erases someone else. Only counts are printed; the number and the contents appear \
            in no output, log or error. Give the number as '--phone -' to read it from stdin, so that it stays out of \
            the process list and shell history.

            Examples:
              lethe requests open --kind access --reference DPO-2026-0114
              echo '+33612345678' | lethe subject export --phone - --out /secure/dpo --request 7
              lethe subject erase --phone 0612345678 --region FR --request 8 --dry-run
            """,
        subcommands: [SubjectExportCommand.self, SubjectEraseCommand.self]
    )
}

/// The person's number, from --phone (or stdin with '-') and --region.
struct SubjectOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The person's phone number, national or international; '-' reads it from stdin.", valueName: "number"))
    var phone: String
    @Option(help: ArgumentHelp("Region for a number without a country code (default: the policy's region).", valueName: "CC"))
    var region: String?

    /// Normalised with the policy's phone rules, as intake did, so a number accepted by length is found again.
    func number(_ policy: RetentionPolicy) throws -> PhoneNumber {
        var text = phone
        if phone == "-" {
            guard let line = readLine(strippingNewline: true), !line.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw LetheError.usage("--phone -: no number on stdin", hint: "pipe the number in: echo '+33…' | lethe subject …")
            }
            text = line
        }
        return try PhoneNumber(parsing: text, defaultRegion: region ?? policy.defaultRegion, rules: policy.phoneRules)
    }
}

struct SubjectExportCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every row about a phone number, decrypted, with a cover sheet for the person (mode 0600).",
        discussion: """
            Writes subject-<request>.json (every field of every row, with its table, customer, row id, retention and \
            deletion date) and subject-<request>.md (the cover sheet: categories, purposes, recipients, source, retention, \
            rights; its texts come from the policy's dpo section). Without --request the files are named by the time. \
            With --request the access request is closed once the files are written.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var subject: SubjectOptions
    @Option(help: ArgumentHelp("Directory to write into (created 0700 if missing).", valueName: "dir")) var out: String
    @Option(help: ArgumentHelp("The access request this answers (see 'lethe requests'); closed on success.", valueName: "id")) var request: Int64?
    @Flag(help: "Print the report as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let number = try subject.number(policy)
        let report = try SubjectExport(db: try database.connect(for: .dpo, command: "subject export", policy: policy), policy: policy, keyring: try keyring.load())
            .run(number: number, directory: out, request: request)
        if json { return try Output.json(report) }
        Output.line("exported \(report.totalRows) row(s)\(report.request.map { " for request \($0) (now closed)" } ?? "")")
        if !report.rows.isEmpty { Output.table(["TABLE", "ROWS"], report.rows.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] }) }
        if report.collisionsDiscarded > 0 { Output.line("\(report.collisionsDiscarded) blind-index candidate(s) were another number and were left out") }
        if report.unreadable > 0 { Terminal.warn("\(report.unreadable) candidate row(s) could not be opened (shredded key or altered value); see the log") }
        report.files.forEach { Output.line("wrote \($0)") }
    }
}

struct SubjectEraseCommand: LetheCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract: "Delete every row about a phone number, record a tombstone, and print the receipt.",
        discussion: """
            Deletes the person's rows in every policy table (messages, contacts, the delivery reports of those messages) \
            in one transaction, records a tombstone (the blind index and a keyed hash of the number, never the number) so \
            that 'lethe restore' erases them again, and prints the receipt: request, time, rows removed per table. \
            Rows of a customer under legal hold are kept and listed in the receipt, every other row is erased, and \
            the command exits 80 when it kept something, naming the hold. With --request the erasure request is closed in the same transaction.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var policyOptions: PolicyOptions
    @OptionGroup var keyring: KeyringOptions
    @OptionGroup var subject: SubjectOptions
    @OptionGroup var ledgerOptions: LedgerOptions
    @Option(help: ArgumentHelp("The erasure request this answers (see 'lethe requests'); closed on success.", valueName: "id")) var request: Int64?
    @Option(help: ArgumentHelp("Also write the receipt to DIR/erasure-<request or tombstone>.json (mode 0600).", valueName: "dir")) var out: String?
    @Flag(name: .customLong("dry-run"), help: "Count what would be erased and check holds; change nothing.") var dryRun = false
    @Flag(help: "Print the receipt as JSON.") var json = false

    func execute() throws {
        let policy = try policyOptions.load()
        let number = try subject.number(policy)
        let keys = try keyring.load()
        var erasure = SubjectErasure(db: try database.connect(for: .dpo, command: "subject erase", policy: policy), policy: policy, keyring: keys)
        erasure.ledger = try ledgerOptions.ledger(keyring: keys)
        if erasure.ledger == nil && !dryRun { LedgerOptions.warnUnrecorded("erasure") }
        let receipt = try erasure.run(number: number, request: request, dryRun: dryRun)
        var written: String?
        if let out, !dryRun {
            written = try SubjectErasure.writeReceipt(receipt, directory: out)
        }
        if json {
            try Output.json(receipt)
        } else {
            printReceipt(receipt, written: written)
        }
        guard !receipt.keptByHold.isEmpty else { return }
        let rows = receipt.keptByHold.reduce(0) { $0 + $1.rows }
        throw LetheError(.legalHold, "\(dryRun ? "would keep" : "kept") \(rows) row(s) of this person under legal hold; every other row \(dryRun ? "would be" : "was") erased",
                         hint: "the receipt lists them; once the hold is released ('lethe hold release --customer ID'), erase again to remove them")
    }

    private func printReceipt(_ receipt: SubjectErasure.Receipt, written: String?) {
        if dryRun {
            Output.line("dry run: would erase \(receipt.totalRows) row(s); nothing was changed")
        } else {
            Output.line("erased \(receipt.totalRows) row(s) at \(Timestamps.iso(receipt.erasedAt)); tombstone \(receipt.tombstone ?? 0)"
                        + (receipt.request.map { "; request \($0) closed" } ?? ""))
        }
        Output.table(["TABLE", dryRun ? "ROWS TO ERASE" : "ROWS REMOVED"], receipt.rowsRemoved.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] })
        if receipt.collisionsKept > 0 { Output.line("\(receipt.collisionsKept) blind-index candidate(s) were another number and were kept") }
        if receipt.unreadable > 0 { Terminal.warn("\(receipt.unreadable) candidate row(s) could not be opened and were not erased; see the log") }
        if let written { Output.line("wrote \(written)") }
        for kept in receipt.keptByHold {
            Output.line("\(dryRun ? "would keep" : "kept") \(kept.rows) row(s) of \(kept.table): customer \(kept.customerId) is under legal hold \(kept.holdId)")
        }
    }
}
