import FixityConfig
import FixityCore
import Testing

/// The guard refuses exactly the headers that abort toml++, and no valid document.
@Suite struct TOMLGuardTests {
    @Test(arguments: [
        ("[[[1]]]\n", 1), ("[[=\n", 1), ("[{a}]\n", 1), ("a = 1\n\n[ .x]\n", 3), ("[[ @ ]]\n", 1),
        ("s = '''\n[[[ in a string\n'''\n[[[x]]]\n", 4), ("[\n", 1), ("[ # c\n", 1), ("[\r\n", 1),
        ("l=[}", 1), ("\u{FEFF}[#\n", 1), ("x = [1, }]\n", 1), ("x = [ # c\n } ]\n", 2), ("x = { a = [ 1 } ]\n", 1),
    ])
    func headersThatWouldAbortTheParserAreRefusedWithTheirLine(_ text: String, _ line: Int) {
        #expect(TOMLGuard.problem(in: text)?.line == line, "\(text)")
    }

    @Test(arguments: [
        "[deploy]\nhealth_cmd = \"true\"\n",
        "[[tests]]\nname = 'unit'\n",
        "[ \"quoted key\" ]\n[ 'lit' . bare ]\n",
        "x = [\n  [1, 2],\n  [ [3] ],\n  [{a = 1}],\n]\n[after]\n",
        "s = \"\"\"\n[[[ not a header\n\"\"\"\nt = '''\n[{\n'''\n",
        "escaped = \"\\\" [[[\"\n# [[[ a comment\n",
        "inline = { a = [ [ 1 ] ], b = \"]\" }\n",
        // Errors toml++ reports itself (cleanly) are left to it.
        "[]\n", "[ [a]]\n", "[deploy\n", "[a.[b]]\n", "[", "[[",
    ])
    func everythingElseIsLeftToTheParser(_ text: String) {
        #expect(TOMLGuard.problem(in: text) == nil, "\(text)")
    }
}
