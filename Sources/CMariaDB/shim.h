// MariaDB Connector/C, from Debian's libmariadb-dev (`pkg-config libmariadb`).
#include <mysql.h>
