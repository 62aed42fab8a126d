/* Test harness only: Debian's Wine 8 has no bcryptprimitives.dll, which every Rust program
 * imports for ProcessPrng. This stand-in answers it from RtlGenRandom (SystemFunction036);
 * real Windows ships the DLL, and the agent never carries this file. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    return SystemFunction036(data, (ULONG)length);
}
