namespace LuoModel.Fdt;

/// <summary>
/// libfdt's <c>FDT_ERR_*</c> codes with libfdt's numbers (fdt.md §10). Functions of this library return
/// the negated value, exactly as libfdt does, so a result compares directly with <c>crafted-results.tsv</c>.
/// </summary>
public enum FdtError
{
    /// <summary>No error (0).</summary>
    None = 0,
    /// <summary>FDT_ERR_NOTFOUND: node, property, alias or list entry missing; end of an iteration.</summary>
    NotFound = 1,
    /// <summary>FDT_ERR_EXISTS: the node to add already exists.</summary>
    Exists = 2,
    /// <summary>FDT_ERR_NOSPACE: the buffer is too small.</summary>
    NoSpace = 3,
    /// <summary>FDT_ERR_BADOFFSET: offset negative, unaligned, out of range, or not at the expected token.</summary>
    BadOffset = 4,
    /// <summary>FDT_ERR_BADPATH: path not absolute and not an alias, or empty.</summary>
    BadPath = 5,
    /// <summary>FDT_ERR_BADPHANDLE: phandle 0 or 0xffffffff.</summary>
    BadPhandle = 6,
    /// <summary>FDT_ERR_BADSTATE: writer call in the wrong state, or an unfinished blob given to a reader.</summary>
    BadState = 7,
    /// <summary>FDT_ERR_TRUNCATED: the blob or one of its blocks ends early.</summary>
    Truncated = 8,
    /// <summary>FDT_ERR_BADMAGIC: magic is not 0xd00dfeed.</summary>
    BadMagic = 9,
    /// <summary>FDT_ERR_BADVERSION: unsupported version pair.</summary>
    BadVersion = 10,
    /// <summary>FDT_ERR_BADSTRUCTURE: malformed structure block.</summary>
    BadStructure = 11,
    /// <summary>FDT_ERR_BADLAYOUT: blocks not in rsvmap, struct, strings order (read-write API).</summary>
    BadLayout = 12,
    /// <summary>FDT_ERR_INTERNAL: libfdt internal inconsistency.</summary>
    Internal = 13,
    /// <summary>FDT_ERR_BADNCELLS: bad #address-cells / #size-cells.</summary>
    BadNCells = 14,
    /// <summary>FDT_ERR_BADVALUE: a property value of the wrong shape (e.g. string list without final NUL).</summary>
    BadValue = 15,
    /// <summary>FDT_ERR_BADOVERLAY.</summary>
    BadOverlay = 16,
    /// <summary>FDT_ERR_NOPHANDLES.</summary>
    NoPhandles = 17,
    /// <summary>FDT_ERR_BADFLAGS: unknown creation flag.</summary>
    BadFlags = 18,
    /// <summary>FDT_ERR_ALIGNMENT: misaligned blob or block.</summary>
    Alignment = 19,
}

/// <summary>Creation flags of <c>fdt_create_with_flags()</c>.</summary>
[Flags]
public enum FdtCreateFlags : uint
{
    /// <summary>Default: property names are de-duplicated (tails of stored names are reused too).</summary>
    None = 0,
    /// <summary>FDT_CREATE_FLAG_NO_NAME_DEDUP: every property appends its name.</summary>
    NoNameDedup = 1,
}

/// <summary>Names and text for libfdt codes.</summary>
public static class FdtErrors
{
    /// <summary>The libfdt macro name of a code, e.g. <c>FDT_ERR_NOTFOUND</c>; accepts positive or negated values.</summary>
    public static string Name(int code) => Math.Abs(code) switch
    {
        0 => "OK",
        1 => "FDT_ERR_NOTFOUND",
        2 => "FDT_ERR_EXISTS",
        3 => "FDT_ERR_NOSPACE",
        4 => "FDT_ERR_BADOFFSET",
        5 => "FDT_ERR_BADPATH",
        6 => "FDT_ERR_BADPHANDLE",
        7 => "FDT_ERR_BADSTATE",
        8 => "FDT_ERR_TRUNCATED",
        9 => "FDT_ERR_BADMAGIC",
        10 => "FDT_ERR_BADVERSION",
        11 => "FDT_ERR_BADSTRUCTURE",
        12 => "FDT_ERR_BADLAYOUT",
        13 => "FDT_ERR_INTERNAL",
        14 => "FDT_ERR_BADNCELLS",
        15 => "FDT_ERR_BADVALUE",
        16 => "FDT_ERR_BADOVERLAY",
        17 => "FDT_ERR_NOPHANDLES",
        18 => "FDT_ERR_BADFLAGS",
        19 => "FDT_ERR_ALIGNMENT",
        var n => $"FDT_ERR_{n}",
    };

    /// <summary>fdt_strerror() of libfdt 1.6.1: macro name, "&lt;no error&gt;", "&lt;valid offset/length&gt;", or "&lt;unknown error&gt;" (1.6.1 has no text for 19).</summary>
    public static string StrError(int code) => code switch
    {
        > 0 => "<valid offset/length>",
        0 => "<no error>",
        < -18 => "<unknown error>",
        _ => Name(code),
    };

    /// <summary>Negates an <see cref="FdtError"/> the way libfdt returns it.</summary>
    public static int Neg(this FdtError e) => -(int)e;
}
