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
    public static let znunyStateTypes: [(Int, String)] = [(1, "new"), (2, "open"), (3, "closed"), (4, "pending reminder"),
                                                          (5, "pending auto"), (6, "removed"), (7, "merged")]
    public static let znunyStates: [(Int, String, Int)] = [(1, "new", 1), (2, "open", 2), (3, "closed successful", 3), (4, "closed unsuccessful", 3),
                                                           (5, "merged", 7), (6, "pending reminder", 4), (10, "closed by admin", 3)]
}
