/// The subsets of two real products' schemas that etc/examples/ govern: their public tables,
/// columns, foreign keys (or lack of them) and indexes, written here in SQL that SQLite and
/// PostgreSQL both accept (Dolibarr's install SQL is MySQL's; Znuny's is PostgreSQL's).
public enum ProductSchemas {
    /// Dolibarr ERP/CRM (htdocs/install/mysql/tables/): third parties and their extra fields,
    /// contacts, events (polymorphic: elementtype + fk_element), invoices and lines, tickets.
    /// `fin_relation` and `consentement_jusqu_au` are extra fields an administrator adds.
    public static let dolibarr = [
        "CREATE TABLE llx_societe (rowid INTEGER PRIMARY KEY, nom VARCHAR(128), client SMALLINT DEFAULT 0, fournisseur SMALLINT DEFAULT 0, address VARCHAR(255), zip VARCHAR(25), town VARCHAR(50), phone VARCHAR(30), email VARCHAR(128), datec TIMESTAMP, tms TIMESTAMP NOT NULL)",
        "CREATE TABLE llx_societe_extrafields (rowid INTEGER PRIMARY KEY, tms TIMESTAMP, fk_object INTEGER NOT NULL, fin_relation DATE, consentement_jusqu_au DATE)",
        "CREATE UNIQUE INDEX uk_societe_extrafields ON llx_societe_extrafields (fk_object)",
        "CREATE TABLE llx_socpeople (rowid INTEGER PRIMARY KEY, fk_soc INTEGER REFERENCES llx_societe (rowid), lastname VARCHAR(50), firstname VARCHAR(50), email VARCHAR(255), phone VARCHAR(30))",
        "CREATE INDEX idx_socpeople_fk_soc ON llx_socpeople (fk_soc)",
        "CREATE TABLE llx_actioncomm (id INTEGER PRIMARY KEY, datep TIMESTAMP, fk_soc INTEGER, elementtype VARCHAR(255), fk_element INTEGER, label VARCHAR(255))",
        "CREATE INDEX idx_actioncomm_fk_element ON llx_actioncomm (fk_element)",
        "CREATE TABLE llx_facture (rowid INTEGER PRIMARY KEY, ref VARCHAR(30) NOT NULL, fk_soc INTEGER NOT NULL REFERENCES llx_societe (rowid), datef DATE, fk_statut SMALLINT DEFAULT 0)",
        "CREATE INDEX idx_facture_fk_soc ON llx_facture (fk_soc)",
        "CREATE INDEX idx_facture_datef ON llx_facture (datef)",
        "CREATE TABLE llx_facturedet (rowid INTEGER PRIMARY KEY, fk_facture INTEGER NOT NULL REFERENCES llx_facture (rowid), description TEXT)",
        "CREATE INDEX idx_facturedet_fk_facture ON llx_facturedet (fk_facture)",
        "CREATE TABLE llx_paiement (rowid INTEGER PRIMARY KEY, ref VARCHAR(30), datep TIMESTAMP, amount DECIMAL(24,8) DEFAULT 0)",
        "CREATE TABLE llx_paiement_facture (rowid INTEGER PRIMARY KEY, fk_paiement INTEGER NOT NULL REFERENCES llx_paiement (rowid), fk_facture INTEGER NOT NULL REFERENCES llx_facture (rowid), amount DECIMAL(24,8) DEFAULT 0)",
        "CREATE INDEX idx_paiement_facture_fk_facture ON llx_paiement_facture (fk_facture)",
        "CREATE INDEX idx_paiement_facture_fk_paiement ON llx_paiement_facture (fk_paiement)",
        "CREATE TABLE llx_ticket (rowid INTEGER PRIMARY KEY, ref VARCHAR(128) NOT NULL, fk_soc INTEGER DEFAULT 0, origin_email VARCHAR(128), subject VARCHAR(255), fk_statut INTEGER, date_close TIMESTAMP)",
        "CREATE INDEX idx_ticket_date_close ON llx_ticket (date_close)",
    ]

    /// Znuny / OTRS (scripts/database/otrs-schema.postgresql.sql): tickets, their states and state
    /// types, history, articles, dynamic field values (object_id + the field's object_type),
    /// calendar appointments linked to tickets (calendar_appointment_ticket),
    /// customer users and their preferences (by login, no foreign key). Timestamps are UTC.
    public static let znuny = [
        "CREATE TABLE ticket_state_type (id SMALLINT PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE)",
        "CREATE TABLE ticket_state (id SMALLINT PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE, type_id SMALLINT NOT NULL REFERENCES ticket_state_type (id))",
        "CREATE TABLE ticket (id BIGINT PRIMARY KEY, tn VARCHAR(50) NOT NULL, title VARCHAR(255), ticket_state_id SMALLINT NOT NULL REFERENCES ticket_state (id), customer_user_id VARCHAR(250), create_time TIMESTAMP NOT NULL, change_time TIMESTAMP NOT NULL)",
        "CREATE INDEX ticket_ticket_state_id ON ticket (ticket_state_id)",
        "CREATE INDEX ticket_customer_user_id ON ticket (customer_user_id)",
        "CREATE TABLE ticket_history (id BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, ticket_id BIGINT NOT NULL REFERENCES ticket (id), state_id SMALLINT NOT NULL REFERENCES ticket_state (id), create_time TIMESTAMP NOT NULL)",
        "CREATE INDEX ticket_history_ticket_id ON ticket_history (ticket_id)",
        "CREATE TABLE article (id BIGINT PRIMARY KEY, ticket_id BIGINT NOT NULL REFERENCES ticket (id), create_time TIMESTAMP NOT NULL)",
        "CREATE INDEX article_ticket_id ON article (ticket_id)",
        "CREATE TABLE article_data_mime (id BIGINT PRIMARY KEY, article_id BIGINT NOT NULL REFERENCES article (id), a_from TEXT, a_subject TEXT, a_body TEXT)",
        "CREATE INDEX article_data_mime_article_id ON article_data_mime (article_id)",
        "CREATE TABLE dynamic_field (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE, object_type VARCHAR(100) NOT NULL)",
        "CREATE TABLE dynamic_field_value (id INTEGER PRIMARY KEY, field_id INTEGER NOT NULL REFERENCES dynamic_field (id), object_id BIGINT NOT NULL, value_text TEXT)",
        "CREATE INDEX dynamic_field_value_field_values ON dynamic_field_value (object_id, field_id)",
        "CREATE TABLE calendar_appointment (id INTEGER PRIMARY KEY, title VARCHAR(255) NOT NULL, description TEXT, start_time TIMESTAMP NOT NULL)",
        "CREATE TABLE calendar_appointment_ticket (calendar_id INTEGER NOT NULL, ticket_id BIGINT NOT NULL REFERENCES ticket (id), rule_id VARCHAR(32) NOT NULL, appointment_id INTEGER NOT NULL REFERENCES calendar_appointment (id), PRIMARY KEY (calendar_id, ticket_id, rule_id))",
        "CREATE INDEX calendar_appointment_ticket_ticket_id ON calendar_appointment_ticket (ticket_id)",
        "CREATE INDEX calendar_appointment_ticket_appointment_id ON calendar_appointment_ticket (appointment_id)",
        "CREATE TABLE customer_user (id INTEGER PRIMARY KEY, login VARCHAR(200) NOT NULL UNIQUE, email VARCHAR(150), first_name VARCHAR(100), last_name VARCHAR(100), valid_id SMALLINT NOT NULL, change_time TIMESTAMP NOT NULL)",
        "CREATE INDEX customer_user_change_time ON customer_user (change_time)",
        "CREATE TABLE customer_preferences (user_id VARCHAR(250) NOT NULL, preferences_key VARCHAR(150) NOT NULL, preferences_value TEXT)",
        "CREATE INDEX customer_preferences_user_id ON customer_preferences (user_id)",
    ]

    /// Znuny's state types and states (id → name, type), with one state an administrator added.
    public static let znunyStateTypes: [(Int, String)] = [
        (1, "new"), (2, "open"), (3, "closed"), (4, "pending reminder"),
        (5, "pending auto"), (6, "removed"), (7, "merged"),
    ]
    public static let znunyStates: [(Int, String, Int)] = [
        (1, "new", 1), (2, "open", 2), (3, "closed successful", 3), (4, "closed unsuccessful", 3),
        (5, "merged", 7), (6, "pending reminder", 4), (10, "closed by admin", 3),
    ]
}

/// The same subsets as each product's MySQL/MariaDB installer writes them — the column order above,
/// the types, keys and storage options of its own install SQL: Dolibarr's
/// `htdocs/install/mysql/tables/*.sql` (`ENGINE=innodb`, `tms … ON UPDATE CURRENT_TIMESTAMP`, keys
/// added by `*.key.sql`: no index on `llx_actioncomm.fk_element` nor `llx_ticket.date_close`), and
/// Znuny's `scripts/database/schema.mysql.sql` with its foreign keys from `schema-post.mysql.sql`
/// (inline indexes, `DATETIME` wall-clock times, a prefix index on `dynamic_field_value.value_text`,
/// a unique index without a primary key on `calendar_appointment_ticket`). On MariaDB the demo and
/// the example tests create these, as they are, instead of the shared schema in MariaDB's terms.
extension ProductSchemas {
    public static let dolibarrMySQL = [
        "CREATE TABLE llx_societe (rowid integer AUTO_INCREMENT PRIMARY KEY, nom varchar(128), client tinyint DEFAULT 0, fournisseur tinyint DEFAULT 0, address varchar(255), zip varchar(25), town varchar(50), phone varchar(30), email varchar(128), datec datetime, tms timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP) ENGINE=innodb",
        "ALTER TABLE llx_societe ADD INDEX idx_societe_nom(nom)",
        "ALTER TABLE llx_societe ADD INDEX idx_societe_tms (tms)",
        "CREATE TABLE llx_societe_extrafields (rowid integer AUTO_INCREMENT PRIMARY KEY, tms timestamp DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, fk_object integer NOT NULL) ENGINE=innodb",
        "ALTER TABLE llx_societe_extrafields ADD UNIQUE INDEX uk_societe_extrafields (fk_object)",
        // Extra fields of type "date", as Dolibarr's extra-field administration adds them.
        "ALTER TABLE llx_societe_extrafields ADD fin_relation date NULL",
        "ALTER TABLE llx_societe_extrafields ADD consentement_jusqu_au date NULL",
        "CREATE TABLE llx_socpeople (rowid integer AUTO_INCREMENT PRIMARY KEY, fk_soc integer, lastname varchar(50), firstname varchar(50), email varchar(255), phone varchar(30)) ENGINE=innodb",
        "ALTER TABLE llx_socpeople ADD INDEX idx_socpeople_fk_soc (fk_soc)",
        "ALTER TABLE llx_socpeople ADD INDEX idx_socpeople_lastname (lastname)",
        "ALTER TABLE llx_socpeople ADD CONSTRAINT fk_socpeople_fk_soc FOREIGN KEY (fk_soc) REFERENCES llx_societe (rowid)",
        "CREATE TABLE llx_actioncomm (id integer AUTO_INCREMENT PRIMARY KEY, datep datetime, fk_soc integer, elementtype varchar(255), fk_element integer, label varchar(255) NOT NULL) ENGINE=innodb",
        "ALTER TABLE llx_actioncomm ADD INDEX idx_actioncomm_fk_soc (fk_soc)",
        "CREATE TABLE llx_facture (rowid integer AUTO_INCREMENT PRIMARY KEY, ref varchar(30) NOT NULL, fk_soc integer NOT NULL, datef date, fk_statut smallint DEFAULT 0 NOT NULL) ENGINE=innodb",
        "ALTER TABLE llx_facture ADD INDEX idx_facture_fk_soc (fk_soc)",
        "ALTER TABLE llx_facture ADD INDEX idx_facture_fk_statut (fk_statut)",
        "ALTER TABLE llx_facture ADD INDEX idx_facture_datef (datef)",
        "ALTER TABLE llx_facture ADD CONSTRAINT fk_facture_fk_soc FOREIGN KEY (fk_soc) REFERENCES llx_societe (rowid)",
        "CREATE TABLE llx_facturedet (rowid integer AUTO_INCREMENT PRIMARY KEY, fk_facture integer NOT NULL, description text) ENGINE=innodb",
        "ALTER TABLE llx_facturedet ADD INDEX idx_facturedet_fk_facture (fk_facture)",
        "ALTER TABLE llx_facturedet ADD CONSTRAINT fk_facturedet_fk_facture FOREIGN KEY (fk_facture) REFERENCES llx_facture (rowid)",
        "CREATE TABLE llx_paiement (rowid integer AUTO_INCREMENT PRIMARY KEY, ref varchar(30), datep datetime, amount double(24,8) DEFAULT 0) ENGINE=innodb",
        "CREATE TABLE llx_paiement_facture (rowid integer AUTO_INCREMENT PRIMARY KEY, fk_paiement integer, fk_facture integer, amount double(24,8) DEFAULT 0) ENGINE=innodb",
        "ALTER TABLE llx_paiement_facture ADD INDEX idx_paiement_facture_fk_facture (fk_facture)",
        "ALTER TABLE llx_paiement_facture ADD INDEX idx_paiement_facture_fk_paiement (fk_paiement)",
        "ALTER TABLE llx_paiement_facture ADD UNIQUE INDEX uk_paiement_facture (fk_paiement, fk_facture)",
        "ALTER TABLE llx_paiement_facture ADD CONSTRAINT fk_paiement_facture_fk_facture FOREIGN KEY (fk_facture) REFERENCES llx_facture (rowid)",
        "ALTER TABLE llx_paiement_facture ADD CONSTRAINT fk_paiement_facture_fk_paiement FOREIGN KEY (fk_paiement) REFERENCES llx_paiement (rowid)",
        "CREATE TABLE llx_ticket (rowid integer AUTO_INCREMENT PRIMARY KEY, ref varchar(128) NOT NULL, fk_soc integer DEFAULT 0, origin_email varchar(128), subject varchar(255) NOT NULL, fk_statut integer, date_close datetime) ENGINE=innodb",
        "ALTER TABLE `llx_ticket` ADD UNIQUE `uk_ticket_ref` (`ref`)",
        "ALTER TABLE `llx_ticket` ADD INDEX idx_ticket_fk_soc (`fk_soc`)",
        "ALTER TABLE `llx_ticket` ADD INDEX idx_ticket_fk_statut (`fk_statut`)",
    ]

    public static let znunyMySQL = [
        "CREATE TABLE ticket_state_type (id SMALLINT NOT NULL AUTO_INCREMENT, name VARCHAR (200) NOT NULL, PRIMARY KEY(id), UNIQUE INDEX ticket_state_type_name (name))",
        "CREATE TABLE ticket_state (id SMALLINT NOT NULL AUTO_INCREMENT, name VARCHAR (200) NOT NULL, type_id SMALLINT NOT NULL, PRIMARY KEY(id), UNIQUE INDEX ticket_state_name (name))",
        "CREATE TABLE ticket (id BIGINT NOT NULL AUTO_INCREMENT, tn VARCHAR (50) NOT NULL, title VARCHAR (255) NULL, ticket_state_id SMALLINT NOT NULL, customer_user_id VARCHAR (250) NULL, create_time DATETIME NOT NULL, change_time DATETIME NOT NULL, PRIMARY KEY(id), UNIQUE INDEX ticket_tn (tn), INDEX ticket_create_time (create_time), INDEX ticket_customer_user_id (customer_user_id), INDEX ticket_ticket_state_id (ticket_state_id), INDEX ticket_title (title))",
        "CREATE TABLE ticket_history (id BIGINT NOT NULL AUTO_INCREMENT, name VARCHAR (200) NOT NULL, ticket_id BIGINT NOT NULL, state_id SMALLINT NOT NULL, create_time DATETIME NOT NULL, PRIMARY KEY(id), INDEX ticket_history_create_time (create_time), INDEX ticket_history_state_id (state_id), INDEX ticket_history_ticket_id (ticket_id))",
        "CREATE TABLE article (id BIGINT NOT NULL AUTO_INCREMENT, ticket_id BIGINT NOT NULL, create_time DATETIME NOT NULL, PRIMARY KEY(id), INDEX article_ticket_id (ticket_id))",
        "CREATE TABLE article_data_mime (id BIGINT NOT NULL AUTO_INCREMENT, article_id BIGINT NOT NULL, a_from MEDIUMTEXT NULL, a_subject TEXT NULL, a_body MEDIUMTEXT NULL, PRIMARY KEY(id), INDEX article_data_mime_article_id (article_id))",
        "CREATE TABLE dynamic_field (id INTEGER NOT NULL AUTO_INCREMENT, name VARCHAR (200) NOT NULL, object_type VARCHAR (100) NOT NULL, PRIMARY KEY(id), UNIQUE INDEX dynamic_field_name (name))",
        "CREATE TABLE dynamic_field_value (id INTEGER NOT NULL AUTO_INCREMENT, field_id INTEGER NOT NULL, object_id BIGINT NOT NULL, value_text MEDIUMTEXT NULL, PRIMARY KEY(id), INDEX dynamic_field_value_field_values (object_id, field_id), INDEX dynamic_field_value_search_text (field_id, value_text(150)))",
        "CREATE TABLE calendar_appointment (id INTEGER NOT NULL AUTO_INCREMENT, title VARCHAR (255) NOT NULL, description MEDIUMTEXT NULL, start_time DATETIME NOT NULL, PRIMARY KEY(id))",
        "CREATE TABLE calendar_appointment_ticket (calendar_id INTEGER NOT NULL, ticket_id BIGINT NOT NULL, rule_id VARCHAR (32) NOT NULL, appointment_id INTEGER NOT NULL, UNIQUE INDEX calendar_appointment_ticket_calendar_id_ticket_id_rule_id (calendar_id, ticket_id, rule_id), INDEX calendar_appointment_ticket_appointment_id (appointment_id), INDEX calendar_appointment_ticket_ticket_id (ticket_id))",
        "CREATE TABLE customer_user (id INTEGER NOT NULL AUTO_INCREMENT, login VARCHAR (200) NOT NULL, email VARCHAR (150) NOT NULL, first_name VARCHAR (100) NOT NULL, last_name VARCHAR (100) NOT NULL, valid_id SMALLINT NOT NULL, change_time DATETIME NOT NULL, PRIMARY KEY(id), UNIQUE INDEX customer_user_login (login))",
        "CREATE TABLE customer_preferences (user_id VARCHAR (250) NOT NULL, preferences_key VARCHAR (150) NOT NULL, preferences_value VARCHAR (250) NULL, INDEX customer_preferences_user_id (user_id))",
        // schema-post.mysql.sql
        "ALTER TABLE ticket_state ADD CONSTRAINT FK_ticket_state_type_id_id FOREIGN KEY (type_id) REFERENCES ticket_state_type (id)",
        "ALTER TABLE ticket ADD CONSTRAINT FK_ticket_ticket_state_id_id FOREIGN KEY (ticket_state_id) REFERENCES ticket_state (id)",
        "ALTER TABLE ticket_history ADD CONSTRAINT FK_ticket_history_state_id_id FOREIGN KEY (state_id) REFERENCES ticket_state (id)",
        "ALTER TABLE ticket_history ADD CONSTRAINT FK_ticket_history_ticket_id_id FOREIGN KEY (ticket_id) REFERENCES ticket (id)",
        "ALTER TABLE article ADD CONSTRAINT FK_article_ticket_id_id FOREIGN KEY (ticket_id) REFERENCES ticket (id)",
        "ALTER TABLE article_data_mime ADD CONSTRAINT FK_article_data_mime_article_id_id FOREIGN KEY (article_id) REFERENCES article (id)",
        "ALTER TABLE dynamic_field_value ADD CONSTRAINT FK_dynamic_field_value_field_id_id FOREIGN KEY (field_id) REFERENCES dynamic_field (id)",
        "ALTER TABLE calendar_appointment_ticket ADD CONSTRAINT FK_calendar_appointment_ticket_ticket_id_id FOREIGN KEY (ticket_id) REFERENCES ticket (id)",
        "ALTER TABLE calendar_appointment_ticket ADD CONSTRAINT FK_calendar_appointment_ticket_appointment_id_id FOREIGN KEY (appointment_id) REFERENCES calendar_appointment (id)",
    ]
}
