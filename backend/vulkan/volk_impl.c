/* volk's implementation (Debian ships it as a header-style source in /usr/include). */
#include <volk.c>
