// libarchive (Debian libarchive-dev) for the board export's ZIP format: the archive's writing
// API is plain C functions, so the module needs only the headers.
#ifndef TACK_CARCHIVE_SHIM_H
#define TACK_CARCHIVE_SHIM_H

#include <archive.h>
#include <archive_entry.h>

#endif
