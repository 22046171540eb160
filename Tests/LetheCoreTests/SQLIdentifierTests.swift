import LetheCore
import Testing

@Suite struct SQLIdentifierTests {
    @Test(arguments: ["messages", "delivery_reports", "_x", "p2026_11"])
    func acceptsPlainNames(_ name: String) throws {
        #expect(try SQLIdentifier(name).quoted == "\"\(name)\"")
    }

    @Test(arguments: ["", "Messages", "1abc", "a b", "x\"; drop table y; --", "a.b", String(repeating: "a", count: 64)])
    func refusesAnythingElse(_ name: String) {
        #expect(throws: LetheError.self) { try SQLIdentifier(name) }
    }

    @Test func qualifiedNames() throws {
        let name = try QualifiedName(parsing: "sms.messages")
        #expect(name.quoted == "\"sms\".\"messages\"")
        #expect(try QualifiedName(parsing: "contacts").description == "public.contacts")
        #expect(throws: LetheError.self) { try QualifiedName(parsing: "a.b.c") }
    }

    @Test func exitCodesAreStable() {
        let table = Dictionary(uniqueKeysWithValues: LetheExitCode.allCases.map { ($0, $0.rawValue) })
        #expect(table[.usage] == 64 && table[.dataError] == 65 && table[.noInput] == 66 && table[.unavailable] == 69)
        #expect(table[.software] == 70 && table[.cannotCreate] == 73 && table[.ioError] == 74 && table[.tempFail] == 75)
        #expect(table[.noPermission] == 77 && table[.integrity] == 79)
    }
}
